"""Who is looking at a conversation, and who is typing a reply to it: kept briefly, and shown to colleagues.

Presence lives in the cache, not the database, and expires by itself: a browser says "viewing"
every 20 seconds while a conversation is open and "typing" while its reply box changes; an entry
nobody renews is gone after VIEW_SECONDS (TYPING_SECONDS for typing), so a closed laptop leaves no
ghost. Colleagues' browsers get the names with the time each expires and hide them then too.
"""

import time

from django.core.cache import cache
from django.template.loader import render_to_string

from inbox.live import groups_for_conversation
from socialcrm.formatting import person

ACTIVITIES = frozenset({"viewing", "typing", "stopped", "left"})  # stopped: typing, as the reply went out
VIEW_SECONDS = 45
TYPING_SECONDS = 6


def note(user, conversation_id: int, activity: str) -> tuple[list[str], str] | None:
    """Record what the user is doing on the conversation; None (and nothing recorded) if they may not see it.

    Otherwise what to tell whom: the groups (none if what colleagues see did not change) and the
    fragment. The caller sends it, from async code: a sync thread must never wait on the event loop
    (at shutdown, the loop stops before a closing socket's last word is out).
    """
    from inbox.models import Conversation
    from inbox.selectors import conversations_visible_to

    # Leaving needs no right to see: it only takes the person's own name off (say, after losing access).
    visible = Conversation.objects if activity == "left" else conversations_visible_to(user)
    conversation = visible.select_related("queue").filter(pk=conversation_id).first()
    if conversation is None:
        return None
    key, now = _key(conversation_id), time.time()
    people = _alive(cache.get(key, {}), now)
    before = _shown(people)
    typing_told = False
    if activity == "left":
        people.pop(str(user.pk), None)
    else:
        entry = people.setdefault(str(user.pk), {"name": person(user), "typing": 0})
        entry["until"] = now + VIEW_SECONDS
        if activity == "typing":  # told when it starts, then at most every TYPING_SECONDS / 2
            typing_told = entry["typing"] - now < TYPING_SECONDS / 2
            entry["typing"] = now + TYPING_SECONDS
        elif activity == "stopped":
            typing_told, entry["typing"] = entry["typing"] > now, 0
    cache.set(key, people, timeout=VIEW_SECONDS)
    if _shown(people) == before and not typing_told:
        return [], ""
    return sorted(groups_for_conversation(conversation)), fragment(conversation_id, people)


def others(conversation_id: int, user) -> list[dict]:
    """The colleagues (not the user) on the conversation now, for the page as it is first drawn."""
    people = _alive(cache.get(_key(conversation_id), {}), time.time())
    return [person for pk, person in people.items() if pk != str(user.pk)]


def fragment(conversation_id: int, people: dict) -> str:
    """The presence envelope and names, rendered once for everyone who may see the conversation."""
    now = time.time()
    shown = [
        {
            "user": pk,
            "name": entry["name"],
            "until": int(entry["until"] * 1000),
            "typing_until": int(entry["typing"] * 1000) if entry["typing"] > now else 0,
        }
        for pk, entry in sorted(people.items())
    ]
    return render_to_string("inbox/live.html#presence", {"conversation_id": conversation_id, "people": shown})


def _key(conversation_id: int) -> str:
    return f"presence:{conversation_id}"


def _alive(people: dict, now: float) -> dict:
    return {pk: person for pk, person in people.items() if person.get("until", 0) > now}


def _shown(people: dict) -> tuple:
    return tuple(sorted(people))
