import uuid
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.exceptions import BadRequest, PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect

from inbox.models import Conversation, Label, Macro
from inbox.selectors import (
    LIST_FILTERS,
    SLA_FILTERS,
    SORTS,
    ListFilters,
    access_conversation,
    access_message,
    conversation_list,
    conversation_pane,
    conversations_visible_to,
    list_placement,
    queue_board,
    queue_summaries,
    queues_visible_to,
)
from inbox.services import conversations, macros, replies
from inbox.services.conversations import assign_conversation, change_status
from inbox.services.triage import change_queue, correct_message
from socialcrm.db import parse_id
from socialcrm.errors import Refused
from socialcrm.formatting import person
from socialcrm.roles import is_supervisor
from triage.models import MessageType, Priority, Queue, Sentiment


def _filter_choices():
    from customers.models import Network

    return {"type": MessageType.choices, "sentiment": Sentiment.choices, "network": Network.choices}


_FILTER_CHOICES = _filter_choices()


@require_GET
def inbox(request):
    """The three-pane inbox; with htmx, only the conversation list of the chosen queue and tab."""
    if _wants_fragment(request, "queue-nav"):  # the counts alone, fetched again after a missed live event
        summaries = queue_summaries(request.user)
        current = next((s for s in summaries if s.queue.slug == request.GET.get("queue")), None)
        return render(request, "inbox/inbox.html#queue-nav", {"summaries": summaries, "current": current})
    queue_slug = request.GET.get("queue")
    if _wants_fragment(request, "more-rows"):
        context = _list_context(request, queue_slug=queue_slug, counted=False)
        return render(request, "inbox/inbox.html#more-rows", context)
    if _wants_fragment(request, "conversation-list"):
        # The queue nav rides along out of band when the list moves to another queue, so its highlight
        # follows. Within a queue (a tab, a filter, a sort) the nav stays as it is, kept current by
        # the live counts, and the list is not held up counting every queue's active conversations.
        oob_nav = queue_slug is None or _shown_queue(request) != queue_slug
        context = _list_context(request, queue_slug=queue_slug, counted=oob_nav)
        return render(request, "inbox/inbox.html#conversation-list", {**context, "oob_nav": oob_nav})
    return render(request, "inbox/inbox.html", _list_context(request, queue_slug=queue_slug))


def _shown_queue(request) -> str | None:
    """The queue of the list the browser shows now (from htmx's HX-Current-URL), if it names one."""
    shown = urlsplit(request.htmx.current_url or "")
    if shown.path != reverse("inbox:home"):
        return None
    return parse_qs(shown.query).get("queue", [None])[0]


@require_GET
def conversation(request, conversation_id: int):
    """One conversation with its customer; with htmx, only the right-hand pane."""
    conversation = access_conversation(request.user, conversation_id)
    pane = _pane(request, conversation)
    if _wants_fragment(request, "conversation-pane"):
        return render(request, "inbox/inbox.html#conversation-pane", pane)
    queue_slug = request.GET.get("queue") or (conversation.queue.slug if conversation.queue else None)
    context = _list_context(request, queue_slug=queue_slug, fall_back=True)
    return render(request, "inbox/inbox.html", {**context, **pane})


def _list_context(request, *, queue_slug: str | None, fall_back: bool = False, counted: bool = True) -> dict:
    """The list pane's page data: the chosen queue, tab and filters, and a page of rows (and the
    queues' counts, unless not `counted`)."""
    summaries, current, status_filter, filters = _chosen_list(
        request, queue_slug=queue_slug, fall_back=fall_back, counted=counted
    )
    rows, next_cursor = [], ""
    if current:
        rows, next_cursor = conversation_list(
            request.user,
            queue=current.queue,
            status_filter=status_filter,
            filters=filters,
            after=request.GET.get("after", ""),
        )
    return {
        "summaries": summaries,
        "current": current,
        "status_filter": status_filter,
        "status_label": LIST_FILTERS[status_filter],
        "list_filters": LIST_FILTERS,
        "filters": filters,
        "filter_query": filters.as_query(),
        "filter_choices": _FILTER_CHOICES,
        "sla_filters": SLA_FILTERS,
        "sorts": SORTS,
        "assignee_choices": current.queue.members.filter(is_active=True).order_by("username") if current else [],
        "conversations": rows,
        "next_cursor": next_cursor,
        "after": request.GET.get("after", ""),
    }


def _chosen_list(request, *, queue_slug: str | None, fall_back: bool = False, counted: bool = True):
    """The queue (of those the user sees), tab and filters a request names; 400 or 404 for ones it may not."""
    summaries = queue_summaries(request.user, counted=counted)
    status_filter, filters = _tab_and_filters(request)
    current = next((s for s in summaries if s.queue.slug == queue_slug), None)
    if queue_slug and current is None and not fall_back:
        raise Http404("No such queue")
    return summaries, current or (summaries[0] if summaries else None), status_filter, filters


def _tab_and_filters(request) -> tuple[str, ListFilters]:
    status_filter = request.GET.get("status", "active")
    if status_filter not in LIST_FILTERS:
        raise BadRequest(f"Unknown status filter; use one of: {', '.join(LIST_FILTERS)}")
    return status_filter, ListFilters.from_query(request.GET)


# Conversations one placement request may ask about: a browser asks for those changed in the last moment.
MAX_PLACED = 100


@require_GET
def placement(request):
    """Where live-changed conversations go in the list a page shows: rows to redraw in place, ids
    further down than it loaded, ids off it. The list's own query decides (inbox.selectors.list_placement)."""
    queue_slug = request.GET.get("queue", "")
    status_filter, filters = _tab_and_filters(request)
    parts = request.GET.get("ids", "").split(",")
    ids = [parse_id(part) for part in parts]
    if not queue_slug or not parts[0] or None in ids or len(ids) > MAX_PLACED:
        raise BadRequest(f"Give the list's queue and up to {MAX_PLACED} conversation ids, comma-separated")
    # The queue alone, not the sidebar's counts: every open list asks this after each burst of changes.
    queue = queues_visible_to(request.user).filter(slug=queue_slug).first()
    if queue is None:
        raise Http404("No such queue")
    placed = list_placement(
        request.user,
        queue=queue,
        status_filter=status_filter,
        filters=filters,
        ids=ids,
        until=request.GET.get("until", ""),
    )
    return render(
        request,
        "inbox/inbox.html#live-placement",
        {"placement": placed, "current": {"queue": queue}, "status_filter": status_filter},
    )


def _wants_fragment(request, target: str) -> bool:
    """An htmx swap into `target`; a history restore after a cache miss needs the whole page."""
    return bool(request.htmx) and request.htmx.target == target and not request.htmx.history_restore_request


def _pane(request, conversation) -> dict:
    # reply_key names the reply this form sends: sent twice, it is still one reply.
    return {**conversation_pane(request.user, conversation), "reply_key": uuid.uuid4()}


def _render_pane(request, conversation_id: int, *, corrected: int | None = None):
    """After a change: the pane alone for htmx (read again through the access helper), else the page."""
    if request.htmx:
        conversation = access_conversation(request.user, conversation_id)
        return render(
            request, "inbox/inbox.html#conversation-pane", {**_pane(request, conversation), "corrected": corrected}
        )
    return redirect("inbox:conversation", conversation_id=conversation_id)


def _acting_on(request, conversation_id: int, permission: str):
    """The conversation the user acts on: 404 if they may not see it, 403 if their role may not do this."""
    conversation = access_conversation(request.user, conversation_id)
    if not request.user.has_perm(permission):
        raise PermissionDenied
    return conversation


class MoveQueueForm(forms.Form):
    queue = forms.ModelChoiceField(queryset=Queue.objects.filter(is_active=True), to_field_name="slug")


@require_POST
def move_queue(request, conversation_id: int):
    """Send a conversation to another queue (a correction the router learns from)."""
    conversation = _acting_on(request, conversation_id, "inbox.change_conversation")
    form = MoveQueueForm(request.POST)
    if not form.is_valid():
        raise BadRequest("Choose one of the open queues.")
    conversation = change_queue(conversation=conversation, queue=form.cleaned_data["queue"], by=request.user)
    if conversations_visible_to(request.user).filter(pk=conversation.pk).exists():
        return _render_pane(request, conversation.pk)
    # Moved out of the agent's own queues: back to their inbox, saying where it went.
    messages.success(request, f"Moved to {conversation.queue.name}. It is no longer in your queues.")
    if request.htmx:
        return HttpResponseClientRedirect(reverse("inbox:home"))
    return redirect("inbox:home")


class CorrectTriageForm(forms.Form):
    message_type = forms.ChoiceField(choices=MessageType.choices)
    sentiment = forms.ChoiceField(choices=Sentiment.choices)


@require_POST
def correct_triage(request, message_id: int):
    """Say what a message really is (type, sentiment); triage learns from it."""
    message = access_message(request.user, message_id)
    if not request.user.has_perm("triage.add_correction"):
        raise PermissionDenied
    form = CorrectTriageForm(request.POST)
    if not form.is_valid():
        raise BadRequest("Choose a type and a sentiment from the lists.")
    correct_message(
        message=message,
        message_type=form.cleaned_data["message_type"],
        sentiment=form.cleaned_data["sentiment"],
        by=request.user,
    )
    return _render_pane(request, message.conversation_id, corrected=message.pk)


def _back_refused(request, back: str, why: str):
    """A bulk request that cannot be carried out: back to the list it came from, saying why."""
    messages.error(request, why)
    return HttpResponseClientRedirect(back) if request.htmx else redirect(back)


@require_POST
def assign(request, conversation_id: int):
    """Assign to me, unassign, or (supervisors) assign to a colleague who works the queue."""
    conversation = _acting_on(request, conversation_id, "inbox.change_conversation")
    choice = request.POST.get("assignee", "")  # "me", "" (nobody), or (supervisors) a colleague's id
    if choice == "me":
        agent = request.user
    elif choice == "":
        agent = None
    elif parse_id(choice) is not None and is_supervisor(request.user):
        agent = get_user_model().objects.filter(pk=parse_id(choice), is_active=True).first()
        if agent is None:
            raise BadRequest("No active colleague with that id.")
    else:
        raise BadRequest("Choose 'me', nobody, or (as a supervisor) a colleague.")
    conversation = assign_conversation(conversation=conversation, agent=agent, by=request.user)
    if request.POST.get("next") == "board":
        messages.success(request, f"#{conversation.pk} now with {person(conversation.assignee, 'nobody')}.")
        return redirect("inbox:board")
    return _render_pane(request, conversation.pk)


class StatusForm(forms.Form):
    status = forms.ChoiceField(choices=Conversation.Status.choices)
    snooze_hours = forms.IntegerField(required=False, min_value=1, max_value=24 * 90)


@require_POST
def set_status(request, conversation_id: int):
    """Resolve, reopen, mark pending, or snooze for a number of hours (it reopens by itself)."""
    conversation = _acting_on(request, conversation_id, "inbox.change_conversation")
    form = StatusForm(request.POST)
    if not form.is_valid():
        raise BadRequest("Choose a status (and, to snooze, 1 hour to 90 days).")
    status, hours = form.cleaned_data["status"], form.cleaned_data["snooze_hours"]
    snoozed_until = None
    if status == Conversation.Status.SNOOZED:
        if not hours:
            raise BadRequest("Say for how long to snooze.")
        snoozed_until = timezone.now() + timedelta(hours=hours)
    change_status(conversation=conversation, status=status, by=request.user, snoozed_until=snoozed_until)
    return _render_pane(request, conversation.pk)


@require_POST
def apply_macro(request, conversation_id: int):
    """Apply a macro: its reply, labels, priority, queue and status in one step."""
    conversation = _acting_on(request, conversation_id, "inbox.change_conversation")
    if not request.user.has_perm("inbox.add_message"):
        raise PermissionDenied
    macro = Macro.objects.filter(pk=parse_id(request.POST.get("macro", ""))).first()
    if macro is None:
        raise BadRequest("Choose one of the macros.")
    macros.apply_macro(conversation=conversation, macro=macro, by=request.user)
    return _render_pane(request, conversation.pk)


@require_POST
def add_note(request, conversation_id: int):
    """An internal note on the conversation, with @mentions."""
    conversation = _acting_on(request, conversation_id, "inbox.add_note")
    conversations.add_note(conversation=conversation, author=request.user, text=request.POST.get("text", ""))
    return _render_pane(request, conversation.pk)


@require_POST
def get_next(request):
    """Claim the most urgent unassigned conversation in my queues and open it."""
    if not request.user.has_perm("inbox.change_conversation"):
        raise PermissionDenied
    conversation = conversations.get_next(agent=request.user)
    if conversation is None:
        messages.info(request, "Nothing is waiting: every new or open conversation in your queues has someone.")
        target = reverse("inbox:home")
    else:
        target = reverse("inbox:conversation", args=[conversation.pk])
    if request.htmx:
        return HttpResponseClientRedirect(target)
    return redirect(target)


class ReplyKeyForm(forms.Form):
    """The name the reply form gives its reply (absent from an old page: the reply is then unnamed)."""

    reply_key = forms.UUIDField(required=False)


@require_POST
def send_reply(request, conversation_id: int):
    """Answer the customer on the conversation's channel (public, or private where the network allows).

    The form's reply_key names the reply: the same form posted twice (a double click) makes one.
    """
    conversation = _acting_on(request, conversation_id, "inbox.add_message")
    form = ReplyKeyForm(request.POST)
    if not form.is_valid():
        raise BadRequest("The reply form is damaged; open the conversation again and resend.")
    collision = _replied_since(request, conversation)
    if collision is not None:  # a colleague answered meanwhile: show it, keep the draft, ask to confirm
        pane = {**_pane(request, conversation), "collision": collision, "draft": request.POST.get("text", "")}
        if request.htmx:
            return render(request, "inbox/inbox.html#conversation-pane", pane, status=409)
        return render(request, "inbox/inbox.html", {**_list_context(request, queue_slug=None, fall_back=True), **pane})
    replies.reply(
        conversation=conversation,
        text=request.POST.get("text", ""),
        private=request.POST.get("private") == "on",
        by=request.user,
        key=form.cleaned_data["reply_key"],
    )
    return _render_pane(request, conversation.pk)


def _replied_since(request, conversation):
    """A reply by someone else sent after the latest message this agent had seen, unless they confirmed."""
    seen = parse_id(request.POST.get("seen", ""))
    if seen is None or request.POST.get("confirm") == "1":
        return None
    return (
        conversation.messages.filter(direction="out", pk__gt=seen)
        .exclude(sent_by=request.user)
        .select_related("sent_by")
        .order_by("pk")
        .first()
    )


@require_POST
def retry_reply(request, message_id: int):
    """Send a failed reply again."""
    message = access_message(request.user, message_id)
    if not request.user.has_perm("inbox.add_message"):
        raise PermissionDenied
    replies.retry_reply(message=message, by=request.user)
    return _render_pane(request, message.conversation_id)


class PriorityAndLabelsForm(forms.Form):
    priority = forms.TypedChoiceField(choices=Priority.choices, coerce=int)
    labels = forms.ModelMultipleChoiceField(queryset=Label.objects.all(), required=False)


@require_POST
def edit_priority_and_labels(request, conversation_id: int):
    """Change the conversation's priority and labels."""
    conversation = _acting_on(request, conversation_id, "inbox.change_conversation")
    form = PriorityAndLabelsForm(request.POST)
    if not form.is_valid():
        raise BadRequest("Choose a priority and labels from the lists.")
    conversations.change_priority(conversation=conversation, priority=form.cleaned_data["priority"], by=request.user)
    conversations.set_labels(conversation=conversation, labels=form.cleaned_data["labels"], by=request.user)
    return _render_pane(request, conversation.pk)


@require_GET
def board(request):
    """Managers' queue board: counts by status, oldest waiting, SLA breaches, agents' load; hand out work."""
    if not is_supervisor(request.user):
        raise PermissionDenied(
            "The queue board is for managers and admins: it shows every queue's workload and hands out work."
            " Your own queues and their counts are in the inbox."
        )
    # The page's live script asks for the queues again (htmx) when the socket says something changed.
    template = "inbox/board.html#board-queues" if request.htmx else "inbox/board.html"
    return render(request, template, {"rows": queue_board(request.user), "statuses": Conversation.Status.choices})


BULK_ACTIONS = {"assign_me": "Assign to me", "pending": "Mark pending", "resolved": "Resolve"}
BULK_LIMIT = 200


@require_POST
def bulk(request):
    """One action on the selected conversations; each goes through the same service as one at a time."""
    if not request.user.has_perm("inbox.change_conversation"):
        raise PermissionDenied
    action = request.POST.get("action", "")
    ids = [pk for pk in map(parse_id, request.POST.getlist("ids")) if pk is not None][:BULK_LIMIT]
    back = request.POST.get("back", "")
    back = back if back.startswith("/inbox/") and "//" not in back else reverse("inbox:home")
    queue = None
    if action.startswith("move:"):
        queue = Queue.objects.filter(slug=action.removeprefix("move:"), is_active=True).first()
    if not ids:
        return _back_refused(request, back, "Nothing changed: tick the conversations first (or Select all).")
    if action not in BULK_ACTIONS and queue is None:
        return _back_refused(request, back, "Nothing changed: choose what to do with the selected conversations.")
    done, refused = 0, []
    for conversation in conversations_visible_to(request.user).filter(pk__in=ids).order_by("pk"):
        try:
            if action == "assign_me":
                assign_conversation(conversation=conversation, agent=request.user, by=request.user)
            elif queue is not None:
                change_queue(conversation=conversation, queue=queue, by=request.user)
            else:
                change_status(conversation=conversation, status=action, by=request.user)
            done += 1
        except Refused as problem:  # refused for this one; the others go on
            refused.append(f"#{conversation.pk}: {problem}")
    unseen = len(ids) - done - len(refused)
    label = f"Moved to {queue.name}" if queue else BULK_ACTIONS[action]
    summary = f"{label}: {done} conversation{'s' if done != 1 else ''}."
    if refused:
        summary += f" Not changed: {'; '.join(refused[:5])}{' …' if len(refused) > 5 else ''}"
    if unseen:
        summary += f" {unseen} not found in your queues."
    if refused:
        messages.warning(request, summary)
    else:
        messages.success(request, summary)
    if request.htmx:
        return HttpResponseClientRedirect(back)
    return redirect(back)
