from django.http import Http404, HttpResponseBadRequest
from django.shortcuts import render
from django.views.decorators.http import require_GET

from inbox.selectors import (
    LIST_FILTERS,
    access_conversation,
    conversation_list,
    conversation_thread,
    customer_sidebar,
    queue_summaries,
)


@require_GET
def inbox(request):
    """The three-pane inbox; with htmx, only the conversation list of the chosen queue and tab."""
    context = _list_context(request, queue_slug=request.GET.get("queue"))
    if isinstance(context, HttpResponseBadRequest):
        return context
    if _wants_fragment(request, "conversation-list"):
        # The queue nav rides along out of band, so its highlight and counts follow the list.
        return render(request, "inbox/inbox.html#conversation-list", {**context, "oob_nav": True})
    return render(request, "inbox/inbox.html", context)


@require_GET
def conversation(request, conversation_id: int):
    """One conversation with its customer; with htmx, only the right-hand pane."""
    conversation = access_conversation(request.user, conversation_id)
    pane = {
        "conversation": conversation,
        "thread": conversation_thread(conversation),
        "customer": customer_sidebar(request.user, conversation.customer_id),
    }
    if _wants_fragment(request, "conversation-pane"):
        return render(request, "inbox/inbox.html#conversation-pane", pane)
    queue_slug = request.GET.get("queue") or (conversation.queue.slug if conversation.queue else None)
    context = _list_context(request, queue_slug=queue_slug, fall_back=True)
    if isinstance(context, HttpResponseBadRequest):
        return context
    return render(request, "inbox/inbox.html", {**context, **pane})


def _list_context(request, *, queue_slug: str | None, fall_back: bool = False):
    summaries = queue_summaries(request.user)
    status_filter = request.GET.get("status", "active")
    if status_filter not in LIST_FILTERS:
        return HttpResponseBadRequest(f"Unknown status filter; use one of: {', '.join(LIST_FILTERS)}")
    current = next((s for s in summaries if s.queue.slug == queue_slug), None)
    if queue_slug and current is None and not fall_back:
        raise Http404("No such queue")
    current = current or (summaries[0] if summaries else None)
    conversations = conversation_list(request.user, queue=current.queue, status_filter=status_filter) if current else []
    return {
        "summaries": summaries,
        "current": current,
        "status_filter": status_filter,
        "list_filters": LIST_FILTERS,
        "conversations": conversations,
    }


def _wants_fragment(request, target: str) -> bool:
    """An htmx swap into `target`; a history restore after a cache miss needs the whole page."""
    return bool(request.htmx) and request.htmx.target == target and not request.htmx.history_restore_request
