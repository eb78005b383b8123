"""Read queries the inbox's doors share, and the one rule of who may see what.

An agent sees the conversations of the queues they belong to, and any conversation assigned to
them; managers and admins see everything. Every page, partial, API endpoint and socket asks here.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import chain

from django.contrib.auth import get_user_model
from django.db.models import Count, Exists, F, FilteredRelation, OuterRef, Prefetch, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.http import Http404
from django.utils import timezone

from customers.models import Customer, CustomerRecord
from inbox import presence, search
from inbox.models import (
    ACTIVE_STATUSES,
    NEVER_DUE,
    PAUSED_STATUSES,
    CannedReply,
    Conversation,
    Label,
    Macro,
    Message,
    Note,
    Status,
)
from inbox.senders import length_limit
from socialcrm.db import parse_id
from socialcrm.errors import Refused
from socialcrm.roles import SUPERVISOR_ROLES, is_supervisor
from triage.models import MessageType, Priority, Queue, Sentiment, TriageDecision


def queues_visible_to(user) -> QuerySet[Queue]:
    """The active queues whose conversations the user may see, in sidebar order."""
    queues = Queue.objects.filter(is_active=True)
    if not is_supervisor(user):
        queues = queues.filter(members=user)
    return queues.order_by("position", "name")


def conversations_visible_to(user) -> QuerySet[Conversation]:
    if not user.is_authenticated:
        return Conversation.objects.none()
    if is_supervisor(user):
        return Conversation.objects.all()
    # A subquery, not a join, so a conversation never appears twice and no DISTINCT is needed.
    member_of = Queue.objects.filter(members=user, is_active=True).values("pk")
    return Conversation.objects.filter(Q(queue__in=member_of) | Q(assignee=user))


def access_conversation(user, conversation_id, *, for_update: bool = False) -> Conversation:
    """The conversation, if the user may see it; 404 otherwise (not 403: its existence is private too)."""
    try:
        conversation_id = int(conversation_id)
    except (TypeError, ValueError):
        raise Http404("No such conversation") from None
    if not conversations_visible_to(user).filter(pk=conversation_id).exists():
        raise Http404("No such conversation")
    conversations = Conversation.objects.select_related(
        "customer", "channel", "queue__sla_policy", "queue__calendar", "assignee"
    )
    if for_update:
        conversations = conversations.select_for_update(of=("self",))
    return conversations.get(pk=conversation_id)


def access_message(user, message_id) -> Message:
    """The message, if the user may see its conversation; 404 otherwise (the same door as the conversation)."""
    conversation_id = Message.objects.filter(pk=message_id).values_list("conversation_id", flat=True).first()
    if conversation_id is None:
        raise Http404("No such message")
    access_conversation(user, conversation_id)
    return Message.objects.select_related("conversation", "channel").get(pk=message_id)


COUNT_TITLES = {"new": "New", "open": "Open", "mine": "Assigned to me", "overdue": "Overdue"}


@dataclass(frozen=True)
class QueueSummary:
    queue: Queue
    new: int | None  # the counts are None where they were not counted (see queue_summaries)
    open: int | None
    mine: int | None  # None where the counts are everyone's (a live event to a whole queue) too
    overdue: int | None

    def counts(self) -> list[tuple[str, str, int]]:
        """(kind, title, value) for each count there is, in the order the queue list shows them."""
        values = {"new": self.new, "open": self.open, "mine": self.mine, "overdue": self.overdue}
        return [(kind, title, values[kind]) for kind, title in COUNT_TITLES.items() if values[kind] is not None]


def queue_summaries(user, *, counted: bool = True) -> list[QueueSummary]:
    """Each visible queue with its counts of new, open, mine and overdue conversations: one query.
    Without `counted`, the queues alone (their counts None): a list drawn without the queue nav does
    not count every active conversation of every queue."""
    if not counted:
        return [QueueSummary(q, None, None, None, None) for q in queues_visible_to(user)]
    queues = _counted(queues_visible_to(user), mine=Count("active", filter=Q(active__assignee=user)))
    return [QueueSummary(q, q.new_count, q.open_count, q.mine_count, q.overdue_count) for q in queues]


def queue_counts(queue_ids) -> list[QueueSummary]:
    """The everyone's counts (new, open, overdue) of these active queues, for live events: one query."""
    queues = _counted(Queue.objects.filter(pk__in=queue_ids, is_active=True))
    return [QueueSummary(q, q.new_count, q.open_count, None, q.overdue_count) for q in queues]


def mine_counts(pairs: set[tuple[int, int]]) -> dict[tuple[int, int], int]:
    """{(user id, queue id): active conversations assigned to them there} for these pairs, zeros included."""
    if not pairs:
        return {}
    users, queues = {user for user, _ in pairs}, {queue for _, queue in pairs}
    found = (
        Conversation.objects.filter(status__in=ACTIVE_STATUSES, assignee_id__in=users, queue_id__in=queues)
        .values_list("assignee_id", "queue_id")
        .annotate(n=Count("pk"))
    )
    counts = dict.fromkeys(pairs, 0)
    counts.update({(user, queue): n for user, queue, n in found if (user, queue) in pairs})
    return counts


def _counted(queues: QuerySet, **extra) -> QuerySet:
    """Queues annotated with new_count, open_count and overdue_count (and `extra` as <name>_count).

    Only active conversations are joined (an index holds just those), so the resolved history,
    however long, costs nothing here.
    """
    now = timezone.now()
    overdue = Q(active__sla_due_at__lt=now)
    return queues.annotate(
        active=FilteredRelation("conversations", condition=Q(conversations__status__in=ACTIVE_STATUSES))
    ).annotate(
        new_count=Count("active", filter=Q(active__status=Status.NEW)),
        open_count=Count("active", filter=Q(active__status=Status.OPEN)),
        overdue_count=Count("active", filter=overdue),
        **{f"{name}_count": value for name, value in extra.items()},
    )


# The list's status tabs: what each shows.
LIST_FILTERS: dict[str, str] = {
    "active": "New & open",
    "mine": "Mine",
    "pending": "Pending",
    "snoozed": "Snoozed",
    "resolved": "Resolved",
    "all": "All",
}


# The list's SLA narrowing and orders, as the list header offers them.
SLA_FILTERS = {"due_soon": "Due soon", "breached": "Breached", "missed": "Missed a target"}
SORTS = {"breach": "Time to breach"}


def due_soon_window(queue: Queue) -> timedelta:
    """How far ahead "due soon" looks in a queue: its policy's warning lead (15 minutes without one)."""
    minutes = queue.sla_policy.due_soon_minutes if queue.sla_policy_id else 0
    return timedelta(minutes=minutes or 15)


@dataclass(frozen=True)
class ListFilters:
    """The list's narrowing beyond queue and status tab; empty means any."""

    message_type: str = ""
    sentiment: str = ""
    network: str = ""
    label: str = ""
    assignee: str = ""  # "", "none" (unassigned) or a colleague's id
    sla: str = ""  # "", "due_soon" or "breached"
    sort: str = ""  # "" (most urgent, then soonest due) or "breach" (soonest to breach first)
    opened: tuple[datetime, datetime] | None = None  # opened in [start, end): a report's bar links here
    missed: tuple[datetime, datetime] | None = None  # missed an SLA target in [start, end)
    q: str = ""  # a search (inbox.search): words, a name, or #id

    @property
    def narrows_beyond_search(self) -> bool:
        """Whether anything but the search narrows the list (its empty state offers to drop those)."""
        return bool(self.as_query(with_search=False))

    @classmethod
    def from_query(cls, query) -> "ListFilters":
        """From the request's GET parameters; raises Refused naming a value it does not know."""
        from customers.models import Network
        from triage.models import MessageType, Sentiment

        filters = cls(
            message_type=query.get("type", ""),
            sentiment=query.get("sentiment", ""),
            network=query.get("network", ""),
            label=query.get("label", "")[:50],
            assignee=query.get("assignee", ""),
            sla=query.get("sla", ""),
            sort=query.get("sort", ""),
            opened=_between(query.get("opened", ""), "opened"),
            missed=_between(query.get("missed", ""), "missed"),
            q=search.cleaned(query.get("q", "")),
        )
        if filters.assignee and filters.assignee != "none" and parse_id(filters.assignee) is None:
            raise Refused("Unknown assignee; use 'none' for unassigned, or a colleague's id")
        for value, allowed, name in (
            (filters.message_type, MessageType.values, "type"),
            (filters.sentiment, Sentiment.values, "sentiment"),
            (filters.network, Network.values, "network"),
            (filters.sla, SLA_FILTERS, "sla"),
            (filters.sort, SORTS, "sort"),
        ):
            if value and value not in allowed:
                raise Refused(f"Unknown {name} {value!r}; use one of: {', '.join(allowed)}")
        return filters

    def as_query(self, *, with_search: bool = True) -> str:
        """The filters as URL parameters (starting with '&'), for links that keep them (the search
        too, unless not `with_search`)."""
        from urllib.parse import urlencode

        pairs = {
            "type": self.message_type,
            "sentiment": self.sentiment,
            "network": self.network,
            "label": self.label,
            "assignee": self.assignee,
            "sla": self.sla,
            "sort": self.sort,
            "opened": "/".join(moment.isoformat() for moment in self.opened) if self.opened else "",
            "missed": "/".join(moment.isoformat() for moment in self.missed) if self.missed else "",
            "q": self.q if with_search else "",
        }
        kept = {key: value for key, value in pairs.items() if value}
        return "&" + urlencode(kept) if kept else ""


def _between(raw: str, name: str) -> tuple[datetime, datetime] | None:
    """`START/END` (ISO 8601 instants with their offsets), as a report links to the conversations of a bar."""
    if not raw:
        return None
    start, _, end = raw.partition("/")
    try:
        bounds = (datetime.fromisoformat(start), datetime.fromisoformat(end))
    except ValueError:
        raise Refused(f"Give '{name}' as START/END, two ISO 8601 times with offsets") from None
    if any(moment.tzinfo is None for moment in bounds) or bounds[0] >= bounds[1]:
        raise Refused(f"Give '{name}' as START/END with offsets, START before END")
    return bounds


def missed_a_target(now: datetime, between: tuple[datetime, datetime] | None = None) -> Q:
    """Conversations that missed an SLA target: answered or resolved late, or overdue now; with
    `between`, those whose late answer or resolution came in that time (as the reports count misses)."""
    late_reply = Message.objects.filter(
        conversation=OuterRef("pk"), answered_due_at__isnull=False, answered_due_at__lt=F("posted_at")
    )
    late_first = Q(first_response_at__gt=F("first_response_due_at"))
    late_resolve = Q(resolved_at__gt=F("resolution_due_at"))
    if between is None:
        return Q(sla_due_at__lt=now) | late_first | late_resolve | Q(Exists(late_reply))
    start, end = between
    return (
        (late_first & Q(first_response_at__gte=start, first_response_at__lt=end))
        | (late_resolve & Q(resolved_at__gte=start, resolved_at__lt=end))
        | Q(Exists(late_reply.filter(posted_at__gte=start, posted_at__lt=end)))
    )


def conversation_list(
    user,
    *,
    queue: Queue,
    status_filter: str = "active",
    filters: ListFilters = ListFilters(),
    after: str = "",
    limit: int = 30,
) -> tuple[list[Conversation], str]:
    """A page of a queue's conversations: most urgent first, then soonest due (resolved: latest first).

    Keyset pagination: `after` is the cursor the previous page returned ("" for the first page), so
    a page costs the same however deep it is. Returns the rows and the next page's cursor ("" at the end).
    Raises Refused for an unknown filter or a malformed cursor.
    """
    conversations, ordering = _listed(user, queue=queue, status_filter=status_filter, filters=filters)
    resolved = status_filter == "resolved"
    if after:
        conversations = conversations.filter(_after(after, resolved=resolved, by_breach=filters.sort == "breach"))
    rows = list(_as_rows(conversations).order_by(*ordering)[: limit + 1])
    more = len(rows) > limit
    rows = _with_excerpts(rows[:limit], filters)
    if not more:
        return rows, ""
    last = rows[-1]
    if resolved:
        key = [to_micros(last.resolved_at)]
    elif filters.sort == "breach":
        key = [to_micros(last.due)]
    else:
        key = [last.priority, to_micros(last.due)]
    return rows, "_".join(str(part) for part in [*key, last.pk])


@dataclass(frozen=True)
class Placement:
    """Where changed conversations go in one list as a browser shows it (see list_placement)."""

    shown: list[Conversation]  # belong among the rows the browser shows: rows to draw
    below: set[int]  # belong to the list, further down than the browser has loaded
    gone: set[int]  # not in this list (or not visible to this user): off it


def list_placement(
    user,
    *,
    queue: Queue,
    status_filter: str = "active",
    filters: ListFilters = ListFilters(),
    ids: list[int],
    until: str = "",
) -> Placement:
    """Which of these conversations belong to this list, as the browser shows it down to `until` (the
    cursor of the page after the last it loaded; "" when it shows the list to its end).

    The list's own query decides, with the user's access: the browser never matches or orders rows.
    Two queries however many ids, so a live change costs each open list one small request.
    """
    conversations, _ = _listed(user, queue=queue, status_filter=status_filter, filters=filters)
    listed = conversations.filter(pk__in=ids)
    below = set()
    if until:
        after = _after(until, resolved=status_filter == "resolved", by_breach=filters.sort == "breach")
        below = set(listed.filter(after).values_list("pk", flat=True))
    shown = _with_excerpts(list(_as_rows(listed.exclude(pk__in=below)).order_by("pk")), filters)
    return Placement(shown=shown, below=below, gone=set(ids) - below - {row.pk for row in shown})


def _listed(
    user, *, queue: Queue, status_filter: str, filters: ListFilters
) -> tuple[QuerySet[Conversation], list[str]]:
    """The conversations a list of a queue holds for this user, and its order (the one source of both)."""
    conversations = conversations_visible_to(user).filter(queue=queue)
    if status_filter == "active":
        conversations = conversations.filter(status__in=ACTIVE_STATUSES)
    elif status_filter == "mine":
        conversations = conversations.filter(status__in=ACTIVE_STATUSES, assignee=user)
    elif status_filter == "all":
        pass
    elif status_filter in LIST_FILTERS:
        conversations = conversations.filter(status=status_filter)
    else:
        raise ValueError(f"unknown list filter {status_filter!r}")  # the views check the tab first
    if filters.message_type:
        conversations = conversations.filter(message_type=filters.message_type)
    if filters.sentiment:
        conversations = conversations.filter(sentiment=filters.sentiment)
    if filters.network:
        conversations = conversations.filter(channel__network=filters.network)
    if filters.assignee == "none":
        conversations = conversations.filter(assignee__isnull=True)
    elif filters.assignee:
        conversations = conversations.filter(assignee_id=int(filters.assignee))
    if filters.label:
        labelled = Conversation.labels.through.objects.filter(label__name=filters.label).values("conversation_id")
        conversations = conversations.filter(pk__in=labelled)
    if filters.opened:
        conversations = conversations.filter(created_at__gte=filters.opened[0], created_at__lt=filters.opened[1])
    if filters.missed:
        conversations = conversations.filter(missed_a_target(timezone.now(), filters.missed))
    if filters.q:
        conversations = conversations.filter(search.conversations_matching(filters.q))
    now = timezone.now()
    if filters.sla == "missed":
        conversations = conversations.filter(missed_a_target(now))
    elif filters.sla == "breached":
        conversations = conversations.filter(sla_due_at__lt=now)
    elif filters.sla == "due_soon":
        conversations = conversations.filter(sla_due_at__gte=now, sla_due_at__lte=now + due_soon_window(queue))
    if status_filter == "resolved":
        return conversations, ["-resolved_at", "-id"]
    conversations = conversations.annotate(due=Coalesce("sla_due_at", Value(NEVER_DUE)))
    return conversations, ["due", "id"] if filters.sort == "breach" else ["-priority", "due", "id"]


def _with_excerpts(rows: list[Conversation], filters: ListFilters) -> list[Conversation]:
    """The rows, each searched one with `excerpt`: where its text holds the words, marked (else None)."""
    if filters.q:
        found = search.excerpts([row.pk for row in rows], filters.q)
        for row in rows:
            row.excerpt = found.get(row.pk)
    return rows


def _as_rows(conversations: QuerySet[Conversation]) -> QuerySet[Conversation]:
    """What a list row shows: customer, channel, assignee, and the latest message's influence band."""
    latest_influence = (
        TriageDecision.objects.filter(message__conversation=OuterRef("pk"))
        .order_by("-message__posted_at", "-message_id")
        .values("influence_band")[:1]
    )
    return conversations.annotate(influence_band=Subquery(latest_influence)).select_related(
        "customer", "channel", "assignee", "queue"
    )


def conversation_rows(ids: list[int]) -> list[Conversation]:
    """Conversations as list rows (for live events); in id order."""
    return list(_as_rows(Conversation.objects.filter(pk__in=ids)).order_by("pk"))


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_micros(moment: datetime) -> int:
    """A moment as whole microseconds since 1970, for page cursors: exact, unlike a float timestamp."""
    return (moment - _EPOCH) // timedelta(microseconds=1)


def from_micros(micros: int) -> datetime:
    return _EPOCH + timedelta(microseconds=micros)


def _after(cursor: str, *, resolved: bool, by_breach: bool = False) -> Q:
    try:
        numbers = [int(part) for part in cursor.split("_")]
        if resolved:
            micros, pk = numbers
            when = from_micros(micros)
            return Q(resolved_at__lt=when) | Q(resolved_at=when, pk__lt=pk)
        if by_breach:
            micros, pk = numbers
            when = from_micros(micros)
            return Q(due__gt=when) | Q(due=when, pk__gt=pk)
        priority, micros, pk = numbers
        when = from_micros(micros)
    except (ValueError, OverflowError) as problem:
        raise Refused("That page link is broken; start again from the first page.") from problem
    return Q(priority__lt=priority) | Q(priority=priority, due__gt=when) | Q(priority=priority, due=when, pk__gt=pk)


def conversation_pane(user, conversation: Conversation) -> dict:
    """What the conversation pane shows the user: the thread, the customer beside it, who else is
    here, and the choices its forms offer (queues, priorities, labels, canned replies, colleagues)."""
    thread = conversation_thread(conversation)
    return {
        "conversation": conversation,
        "thread": thread,
        # The newest message the agent is shown: a reply sent after it by someone else asks to confirm.
        "last_message_id": max((item.pk for item in thread if isinstance(item, Message)), default=0),
        "customer": customer_sidebar(user, conversation.customer_id),
        "queues": Queue.objects.filter(is_active=True),
        "reply_limit": length_limit(conversation.channel),
        "priorities": Priority.choices,
        "all_labels": Label.objects.all(),
        "conversation_labels": list(conversation.labels.all()),
        "canned_replies": [
            (canned, canned.filled_for(conversation, user))
            for canned in CannedReply.objects.filter(Q(queue__isnull=True) | Q(queue_id=conversation.queue_id))
        ],
        "macros": Macro.objects.filter(Q(queue__isnull=True) | Q(queue_id=conversation.queue_id))
        .select_related("move_to_queue")
        .prefetch_related("add_labels"),
        "message_types": MessageType.choices,
        "sentiments": Sentiment.choices,
        "present": presence.others(conversation.pk, user),
        "clocks": sla_clocks(conversation),
        # Supervisors may give it to a colleague who works its queue.
        "colleagues": (
            conversation.queue.members.filter(is_active=True).order_by("username")
            if conversation.queue_id and is_supervisor(user)
            else []
        ),
    }


@dataclass(frozen=True)
class ClockRow:
    """One SLA clock as the pane shows it."""

    label: str
    due: datetime | None
    state: str  # running, due_soon, breached, paused, paused_breached, met, missed, stopped
    done_at: datetime | None = None


def sla_clocks(conversation: Conversation, *, now: datetime | None = None) -> tuple[list[ClockRow], str]:
    """The conversation's SLA clocks (those it has or had), and why they stand still ("" when they run)."""
    now = now or timezone.now()
    if not (conversation.queue_id and conversation.queue.sla_policy_id):
        return [], ""
    soon = due_soon_window(conversation.queue)
    answered = conversation.first_response_at
    resolved = conversation.resolved_at if conversation.status == Status.RESOLVED else None
    paused = conversation.status in PAUSED_STATUSES

    def row(label, due, running, done_at) -> ClockRow:
        if not running:
            if done_at is None:  # resolved without it
                return ClockRow(label, due, "stopped")
            return ClockRow(label, due, "met" if due is None or done_at <= due else "missed", done_at)
        if paused:  # it stands still: no countdown, though it may have breached before the pause
            return ClockRow(label, due, "paused_breached" if due and due < now else "paused")
        if due is None:
            return ClockRow(label, None, "running")
        state = "breached" if due < now else "due_soon" if due <= now + soon else "running"
        return ClockRow(label, due, state)

    rows = [row("First response", conversation.first_response_due_at, answered is None and not resolved, answered)]
    if conversation.next_response_due_at or (answered and conversation.awaiting_since):
        waiting = conversation.awaiting_since is not None and not resolved
        rows.append(row("Next response", conversation.next_response_due_at, waiting, conversation.last_message_at))
    rows.append(row("Resolution", conversation.resolution_due_at, not resolved, resolved))
    if conversation.status == Status.PENDING:
        why = "Paused while waiting on the customer; it runs again when they write."
    elif conversation.status == Status.SNOOZED:
        why = f"Paused while snoozed, until {timezone.localtime(conversation.snoozed_until):%a %-d %b %H:%M}."
    elif resolved:
        why = "Stopped: resolved."
    elif not conversation.queue.business_hours.is_open(now):
        why = "Standing still outside the queue's business hours."
    else:
        why = ""
    return rows, why


def conversation_thread(conversation: Conversation) -> list[Message | Note]:
    """Every message and internal note of the conversation, oldest first."""
    messages = conversation.messages.select_related("author", "sent_by", "triage")
    notes = conversation.notes.select_related("author").prefetch_related("mentions")
    return sorted(
        chain(messages, notes),
        key=lambda item: (item.posted_at if isinstance(item, Message) else item.created_at, item.pk),
    )


def customer_sidebar(user, customer_id: int) -> Customer:
    """The customer with identities, latest records and the latest conversations the user may see."""
    recent = conversations_visible_to(user).select_related("channel", "queue").order_by("-last_message_at")
    return Customer.objects.prefetch_related(
        "identities",
        Prefetch("conversations", queryset=recent[:6], to_attr="recent_conversations"),
        Prefetch("records", queryset=CustomerRecord.objects.order_by("-occurred_at")[:5], to_attr="recent_records"),
    ).get(pk=customer_id)


@dataclass
class BoardRow:
    """One queue on the manager's board."""

    queue: Queue
    by_status: dict[str, int]
    breaches: int
    oldest_waiting: object  # datetime or None: when the oldest active conversation still unanswered arrived
    agents: list[tuple[object, int]]  # (member, their open conversations in this queue), busiest first
    waiting: list[Conversation]  # the oldest unassigned active conversations, to hand out
    supervisors: frozenset[int] = frozenset()  # members who manage or administer: offered last

    @property
    def least_busy_first(self) -> list[tuple[object, int]]:
        """Whom "give to" offers, first the default: the least-loaded agent, managers only after every agent."""
        return sorted(self.agents, key=lambda pair: (pair[0].pk in self.supervisors, pair[1], pair[0].get_username()))


BOARD_WAITING = 5


def queue_board(user) -> list[BoardRow]:
    """Every queue the user supervises, with its workload. A fixed number of queries, however many queues."""
    from django.db.models import Min
    from django.db.models.expressions import Window
    from django.db.models.functions import RowNumber

    now = timezone.now()
    queues = list(queues_visible_to(user).prefetch_related("members"))
    ids = [queue.pk for queue in queues]
    in_queues = Conversation.objects.filter(queue_id__in=ids)
    by_status: dict[int, dict[str, int]] = {pk: dict.fromkeys(Status.values, 0) for pk in ids}
    for queue_id, status, count in in_queues.values_list("queue_id", "status").annotate(n=Count("pk")).order_by():
        by_status[queue_id][status] = count
    unanswered = in_queues.filter(status__in=ACTIVE_STATUSES, first_response_at__isnull=True)
    breaches = dict(
        in_queues.filter(status__in=ACTIVE_STATUSES, sla_due_at__lt=now)
        .values_list("queue_id")
        .annotate(n=Count("pk"))
        .order_by()
    )
    oldest = dict(unanswered.values_list("queue_id").annotate(oldest=Min("created_at")).order_by())
    load: dict[tuple[int, int], int] = {
        (queue_id, agent_id): count
        for queue_id, agent_id, count in in_queues.filter(status__in=ACTIVE_STATUSES, assignee__isnull=False)
        .values_list("queue_id", "assignee_id")
        .annotate(n=Count("pk"))
        .order_by()
    }
    members = {member.pk for queue in queues for member in queue.members.all()}
    supervisors = frozenset(
        get_user_model()
        .objects.filter(Q(is_superuser=True) | Q(groups__name__in=SUPERVISOR_ROLES), pk__in=members)
        .values_list("pk", flat=True)
    )
    waiting: dict[int, list[Conversation]] = {pk: [] for pk in ids}
    ranked = (
        in_queues.filter(status__in=ACTIVE_STATUSES, assignee__isnull=True)
        .annotate(rank=Window(RowNumber(), partition_by="queue_id", order_by=["created_at", "pk"]))
        .filter(rank__lte=BOARD_WAITING)
        .select_related("customer", "channel")
        .order_by("queue_id", "created_at", "pk")
    )
    for conversation in ranked:
        waiting[conversation.queue_id].append(conversation)
    return [
        BoardRow(
            queue=queue,
            by_status=by_status[queue.pk],
            breaches=breaches.get(queue.pk, 0),
            oldest_waiting=oldest.get(queue.pk),
            agents=sorted(
                ((member, load.get((queue.pk, member.pk), 0)) for member in queue.members.all() if member.is_active),
                key=lambda pair: (-pair[1], pair[0].get_username()),
            ),
            waiting=waiting[queue.pk],
            supervisors=supervisors,
        )
        for queue in queues
    ]
