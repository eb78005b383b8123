"""Live events: what changed, pushed to the browsers that may see it, once, after the change commits.

Streams are channel-layer groups, named here from who may see what (the same rule as the pages):
- ``live.queue.<id>``: agents who are members of that active queue;
- ``live.all``: managers and admins, who see every conversation;
- ``live.user.<id>``: one person (conversations assigned to them, @mentions, and control messages);
- ``live.session.<hash>``: one signed-in browser session (closed when it signs out).

Changes collect per transaction and are published once after it commits: each conversation's row is
rendered once, and every group that may see it gets it, with the queue counts the change touched.
Each group gets one message holding all its events, each event with that group's next sequence
number, so a browser that misses one (the channel layer may drop messages) notices the gap and
fetches its page again. Groups that could see a conversation before the change but not after get a
bare "gone" event with no content.
"""

import asyncio
import hashlib
import logging
import threading
from collections import defaultdict
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.core.cache import cache
from django.db import transaction
from django.dispatch import Signal
from django.template.loader import render_to_string

from inbox.models import Conversation
from socialcrm.accounts import needs_second_factor
from socialcrm.roles import is_supervisor

log = logging.getLogger(__name__)

ALL, QUEUE, USER = "live.all", "live.queue.", "live.user."


def queue_group(queue_id: int) -> str:
    return f"{QUEUE}{queue_id}"


def user_group(user_id: int) -> str:
    return f"{USER}{user_id}"


def session_group(session_key: str) -> str:
    return "live.session." + hashlib.sha256(session_key.encode()).hexdigest()[:32]


def groups_for_user(user) -> set[str]:
    """The streams a signed-in user listens to: decided by inbox.selectors, never by the browser."""
    from inbox.selectors import queues_visible_to

    if not user.is_authenticated or not user.is_active or needs_second_factor(user):
        return set()
    if is_supervisor(user):
        return {ALL, user_group(user.pk)}
    return {user_group(user.pk)} | {queue_group(pk) for pk in queues_visible_to(user).values_list("pk", flat=True)}


def groups_for_conversation(conversation: Conversation) -> set[str]:
    """Every stream whose listeners may see this conversation (mirrors conversations_visible_to)."""
    open_queue = conversation.queue_id if conversation.queue_id and conversation.queue.is_active else None
    return _groups_at(open_queue, conversation.assignee_id)


def _groups_at(queue_id: int | None, assignee_id: int | None) -> set[str]:
    """The streams that could see a conversation in that queue with that assignee. (Where a row was,
    a closed queue counts too: its stream has no listeners, its members regrouped when it closed.)"""
    groups = {ALL}
    if queue_id:
        groups.add(queue_group(queue_id))
    if assignee_id:
        groups.add(user_group(assignee_id))
    return groups


# --- Publishing ---

_pending = threading.local()


def send_on_commit(conversations: Iterable[Conversation | int]) -> None:
    """Push these conversations' rows to every stream that may see them, once the transaction commits.

    Every service that changes what a list shows ends with this call. Give it the Conversation it
    changed, as read from the database: where its queue or assignee is not where it was read, the
    streams that could see it there and cannot now are told it is gone. An id says the row changed
    in place. Calls within one transaction collect into one event per conversation.
    """
    state = getattr(_pending, "state", None) or {"ids": set(), "before": {}}
    _pending.state = state
    for conversation in conversations:
        if not isinstance(conversation, Conversation):
            state["ids"].add(conversation)
            continue
        state["ids"].add(conversation.pk)
        place = conversation.loaded_place
        if place is not None and place != (conversation.queue_id, conversation.assignee_id):
            state["before"].setdefault(conversation.pk, set()).update(_groups_at(*place))
    # Each call asks; the first flush after the commit sends everything pending, the others find nothing.
    transaction.on_commit(_flush, robust=True)


# Sent once a transaction that changed conversations has committed, with their ids: what reads
# across conversations (the reports' rollups) follows from it without the inbox importing it.
conversations_changed = Signal()


def _flush() -> None:
    state = getattr(_pending, "state", None)
    _pending.state = None
    if state and state["ids"]:
        try:
            publish(state["ids"], before=state["before"])  # the browsers first: nothing waits in front of them
        finally:
            conversations_changed.send_robust(sender=Conversation, conversation_ids=set(state["ids"]))


def publish(conversation_ids: Iterable[int], *, before: dict[int, set[str]] | None = None) -> int:
    """Render and send the current state of these conversations, and their queues' counts.

    Each group gets one message holding all its events (rows, "gone"s, counts), each event with
    the group's next sequence number. Returns the number of events sent.
    """
    from inbox.selectors import conversation_rows

    before = before or {}
    # Taken before the rows are read: of two publishes of one conversation racing, the later number
    # read the later state, and the browser drops a row older than one it already applied.
    version = _incr("live-version")
    events: dict[str, list[tuple[dict, str]]] = defaultdict(list)  # group -> [(envelope attributes, content)]
    with_rows: set[str] = set()
    rows = conversation_rows(list(conversation_ids))
    for row in rows:
        context = {"row": row, "current": {"queue": row.queue}, "status_filter": "active"}
        html = render_to_string("inbox/inbox.html#conversation-row", context)
        now_groups = groups_for_conversation(row)
        with_rows |= now_groups
        for group in sorted(now_groups):
            events[group].append((_row_attrs(row, version), html))
        for group in sorted(before.get(row.pk, set()) - now_groups):
            events[group].append(({"live": "gone", "conversation": row.pk, "version": version}, ""))
    _add_counts(events, rows, before)
    # Streams with rows first: a browser that hears both a row and a "gone" of one publish (it sees the
    # conversation through another stream) keeps the row.
    ordered = sorted(events.items(), key=lambda item: item[0] not in with_rows)
    sends = [(group, {"type": "live.event", "html": _numbered(group, parts)}) for group, parts in ordered]
    return sum(len(parts) for parts in events.values()) if _send(sends) else 0


def _add_counts(events: dict[str, list[tuple[dict, str]]], rows: list[Conversation], before: dict[int, set[str]]):
    """The counts the queue list shows, for every queue and assignee these changes touched.

    Everyone's counts (new, open, overdue) go to the queue's stream and to supervisors. "Mine" goes
    to the person's own stream, for the queues the conversation was in while it was theirs (nothing
    about a queue they never saw that conversation in).
    """
    from inbox.selectors import COUNT_TITLES, mine_counts, queue_counts

    queue_ids: set[int] = set()
    pairs: set[tuple[int, int]] = set()  # (assignee, queue) whose "mine" may have changed
    for row in rows:
        was = before.get(row.pk, set())
        queues = {row.queue_id} - {None} | _ids(was, QUEUE)
        queue_ids |= queues
        pairs |= {(user, queue) for user in {row.assignee_id} - {None} | _ids(was, USER) for queue in queues}
    if not queue_ids:
        return
    slugs = {}
    for summary in queue_counts(queue_ids):
        slugs[summary.queue.pk] = summary.queue.slug
        html = _counts_html(summary.queue.slug, summary.counts())
        for group in (ALL, queue_group(summary.queue.pk)):
            events[group].append(({"live": "counts"}, html))
    pairs = {(user, queue) for user, queue in pairs if queue in slugs}
    for (user_id, queue_id), mine in mine_counts(pairs).items():
        html = _counts_html(slugs[queue_id], [("mine", COUNT_TITLES["mine"], mine)])
        events[user_group(user_id)].append(({"live": "counts"}, html))


def _counts_html(slug: str, counts: list[tuple[str, str, int]]) -> str:
    return render_to_string("inbox/inbox.html#queue-counts", {"slug": slug, "counts": counts})


def _ids(groups: set[str], prefix: str) -> set[int]:
    """The ids in group names of one kind (``live.queue.7`` -> 7)."""
    return {int(group.removeprefix(prefix)) for group in groups if group.startswith(prefix)}


def notify_user(user_id: int, kind: str, html: str) -> int:
    """A personal event (an @mention) for one person's browsers."""
    group = user_group(user_id)
    return int(_send([(group, {"type": "live.event", "html": _numbered(group, [({"live": kind}, html)])})]))


def control(group: str, action: str) -> None:
    """Tell the sockets of a group to regroup ("regroup") or close ("close"): not an event, no sequence."""
    _send([(group, {"type": f"live.{action}"})])


def next_seq(group: str, count: int = 1) -> int:
    """Take the stream's next `count` sequence numbers; returns the last of them."""
    return _incr(f"live-seq:{group}", count)


def _incr(key: str, count: int = 1) -> int:
    """A shared counter (Redis INCR when the cache is Redis): every process sees one order."""
    try:
        return cache.incr(key, count)
    except ValueError:  # its first use (or it was evicted)
        cache.add(key, 0, timeout=None)
        return cache.incr(key, count)


def current_seq(groups: Iterable[str]) -> dict[str, int]:
    keys = {f"live-seq:{group}": group for group in groups}
    found = cache.get_many(list(keys))
    return {group: int(found.get(key, 0)) for key, group in keys.items()}


def _numbered(group: str, events: list[tuple[dict, str]]) -> str:
    """The group's events as one frame, each with the stream's next sequence number (inbox/live.html#events)."""
    first = next_seq(group, len(events)) - len(events) + 1
    numbered = [(first + n, attrs, content) for n, (attrs, content) in enumerate(events)]
    return render_to_string("inbox/live.html#events", {"stream": group, "events": numbered})


def _row_attrs(row: Conversation, version: int) -> dict:
    """What the browser reads from a row event before asking where it goes (inbox.views.placement):
    which conversation, the publish's version, and what decides whether it rings for attention."""
    return {"live": "row", "conversation": row.pk, "version": version, "status": row.status, "priority": row.priority}


def _send(sends: list[tuple[str, dict]]) -> bool:
    """group_send each (group, message) from sync code, all in one event loop and one connection.

    From a thread that runs an event loop, through a thread that does not. A failure is logged, not
    raised: the change is committed, and a lost event is caught up by the browser's gap check.
    """
    layer = get_channel_layer()

    async def send_all():
        for group, message in sends:
            await layer.group_send(group, message)

    try:
        if _loop_running():  # async_to_sync refuses a thread with a running loop: use one without
            with ThreadPoolExecutor(max_workers=1) as pool:
                pool.submit(async_to_sync(send_all)).result()
        else:
            async_to_sync(send_all)()
    except Exception:
        log.exception("live: %d messages to %s not sent", len(sends), ", ".join(group for group, _ in sends))
        return False
    return True


def _loop_running() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


# --- Who listens changes: regroup or close their sockets at once, not when a group expires ---


def connect_signals() -> None:
    from allauth.mfa.models import Authenticator
    from django.contrib.auth import get_user_model, user_logged_out
    from django.db.models.signals import m2m_changed, post_delete, post_save, pre_save

    from socialcrm.accounts import sessions_ended
    from triage.models import Queue

    User = get_user_model()
    m2m_changed.connect(_membership_changed, sender=Queue.members.through, dispatch_uid="live-membership")
    m2m_changed.connect(_role_changed, sender=User.groups.through, dispatch_uid="live-role")
    post_save.connect(_user_saved, sender=User, dispatch_uid="live-user-saved")
    post_save.connect(_queue_saved, sender=Queue, dispatch_uid="live-queue-saved")
    user_logged_out.connect(_signed_out, dispatch_uid="live-signed-out")
    sessions_ended.connect(_sessions_ended, dispatch_uid="live-sessions-ended")
    post_save.connect(_second_factor_changed, sender=Authenticator, dispatch_uid="live-second-factor-added")
    post_delete.connect(_second_factor_changed, sender=Authenticator, dispatch_uid="live-second-factor-removed")
    pre_save.connect(_user_changing, sender=User, dispatch_uid="live-user-changing")
    post_delete.connect(_user_deleted, sender=User, dispatch_uid="live-user-deleted")


def _after_commit(group: str, action: str) -> None:
    transaction.on_commit(lambda: control(group, action), robust=True)


def _membership_changed(sender, instance, action, pk_set, **kwargs):
    """Someone joined or left a queue: their streams change at once."""
    for user_id in _people_changed(instance, action, pk_set, lambda queue: queue.members):
        _after_commit(user_group(user_id), "regroup")


def _role_changed(sender, instance, action, pk_set, **kwargs):
    """A role (a group) given or taken: a manager made agent stops hearing every queue at once."""
    for user_id in _people_changed(instance, action, pk_set, lambda role: role.user_set):
        _after_commit(user_group(user_id), "regroup")


def _people_changed(instance, action: str, pk_set, people) -> set[int]:
    """The people an m2m change between people and a queue or role touches; `people(thing)` lists its people."""
    from django.contrib.auth import get_user_model

    if isinstance(instance, get_user_model()):
        return {instance.pk} if action in {"post_add", "post_remove", "post_clear"} else set()
    if action == "pre_clear":  # who had it, before they are gone
        instance._live_people = set(people(instance).values_list("pk", flat=True))
    if action == "post_clear":
        return getattr(instance, "_live_people", set())
    return set(pk_set or ()) if action in {"post_add", "post_remove"} else set()


def _queue_saved(sender, instance, created, **kwargs):
    if not created:  # opened or closed: its members' streams change
        for user_id in instance.members.values_list("pk", flat=True):
            _after_commit(user_group(user_id), "regroup")


def _signed_out(sender, request, user, **kwargs):
    if request is not None and request.session.session_key:
        control(session_group(request.session.session_key), "close")


def _sessions_ended(sender, user, session_keys, **kwargs):
    """Signed out everywhere: each of those sessions' sockets stops now."""
    for key in session_keys:
        control(session_group(key), "close")


def _second_factor_changed(sender, instance, **kwargs):
    """A manager enrolled (or removed) a second factor: their streams follow at once."""
    _after_commit(user_group(instance.user_id), "regroup")


def _user_saved(sender, instance, created, update_fields=None, **kwargs):
    """Any other change to a person (superuser, a password set any way): their sockets check again."""
    if not created and set(update_fields or ()) != {"last_login"}:
        _after_commit(user_group(instance.pk), "regroup")


def _user_changing(sender, instance, **kwargs):
    """A new password or a deactivation ends the person's open sockets (the page says it is signed out)."""
    if instance.pk and (getattr(instance, "_password", None) is not None or not instance.is_active):
        _after_commit(user_group(instance.pk), "close")


def _user_deleted(sender, instance, **kwargs):
    _after_commit(user_group(instance.pk), "close")
