"""The live socket: who may connect, who hears what, what a browser may send, and revocation."""

import asyncio
import json
import re
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.db import connections
from django.test import Client

from inbox import live
from inbox.services.conversations import add_note, assign_conversation
from inbox.services.triage import change_queue, triage_messages
from socialcrm.asgi import application
from tests.factories import ensure_migrated_data, make_conversation, make_user
from triage.models import Queue

pytestmark = pytest.mark.django_db(transaction=True)
ORIGIN = b"http://localhost"


def session_of(user) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


def socket(session: str | None, origin: bytes = ORIGIN) -> WebsocketCommunicator:
    headers = [(b"origin", origin), (b"host", b"localhost")]
    if session:
        headers.append((b"cookie", f"sessionid={session}".encode()))
    return WebsocketCommunicator(application, "/ws/inbox/", headers=headers)


@pytest.fixture
def people():
    ensure_migrated_data()
    return {
        "sam": make_user("sam", role="agent", queues=("service",)),
        "pia": make_user("pia", role="agent", queues=("pr",)),
        "maria": make_user("maria", role="manager"),
    }


async def connected(sessions: dict[str, str]) -> dict[str, WebsocketCommunicator]:
    """Sockets for these people, each past its hello."""
    sockets = {}
    for name, session in sessions.items():
        communicator = socket(session)
        accepted, _ = await communicator.connect()
        assert accepted
        assert 'data-live="hello"' in await communicator.receive_from()
        sockets[name] = communicator
    return sockets


async def heard(sockets, timeout=0.5) -> dict[str, list[str]]:
    """Every message each socket got, until each has been quiet for a moment."""
    result = {}
    for name, communicator in sockets.items():
        got = []
        while not await communicator.receive_nothing(timeout=timeout / 5 if got else timeout):
            got.append(await communicator.receive_from())
        result[name] = got
    return result


def kinds(messages: list[str]) -> list[str]:
    """The kinds of event received, in order (a frame may carry several)."""
    return [kind for message in messages for kind in re.findall(r'data-live="([a-z]+)"', message)]


async def close_all(sockets):
    for communicator in sockets.values():
        await communicator.disconnect()


def run(scenario):
    """One event loop for a whole scenario: the sockets live in it; sync code runs via `sync`.

    In a thread of its own, since the browser tests leave Playwright's loop running in this one; its
    database connections are closed after (left open, they keep the test database from being dropped).
    """
    with ThreadPoolExecutor(max_workers=1) as pool:
        try:
            pool.submit(async_to_sync(scenario)).result()
        finally:
            pool.submit(connections.close_all).result()


def sync(function):
    return sync_to_async(function, thread_sensitive=True)


def test_no_session_or_a_foreign_origin_is_refused(people):
    session = session_of(people["sam"])

    async def scenario():
        anonymous = socket(None)
        await anonymous.connect()  # accepted only to be told why, so that the browser does not retry
        assert await anonymous.receive_output(timeout=1) == {"type": "websocket.close", "code": 4401}
        await anonymous.disconnect()
        accepted, _ = await socket(session, origin=b"https://evil.example").connect()
        assert not accepted

    run(scenario)


def test_each_event_reaches_exactly_those_who_may_see_it(people):
    """The sockets end to end: each person's socket joins the streams they may see, and no other.
    What each verb sends to which stream is tests/inbox/test_publishing.py."""
    sessions = {name: session_of(user) for name, user in people.items()}
    conversation = make_conversation("service", text="Router dead")
    pr = Queue.objects.get(slug="pr")
    sam, maria = people["sam"], people["maria"]

    message_ids = list(conversation.messages.values_list("pk", flat=True))

    async def scenario():
        sockets = await connected(sessions)
        await sync(triage_messages)(message_ids=message_ids)  # triage publishes the new row
        got = await heard(sockets)
        assert {name: kinds(messages) for name, messages in got.items()} == {
            "sam": ["row", "counts"],
            "pia": [],
            "maria": ["row", "counts"],
        }
        assert "Router dead" in got["sam"][0]

        await sync(assign_conversation)(conversation=conversation, agent=sam, by=sam)
        got = await heard(sockets)
        assert "count-service-mine" in "".join(got["sam"]) and "count-service-mine" not in "".join(got["maria"])

        # Moved to PR (and no longer Sam's): PR hears it now; Sam is told only that it is gone.
        await sync(assign_conversation)(conversation=conversation, agent=None, by=sam)
        await heard(sockets)
        await sync(change_queue)(conversation=conversation, queue=pr, by=sam)
        got = await heard(sockets)
        assert kinds(got["sam"]) == ["gone", "counts"] and "Router dead" not in got["sam"][0]
        assert kinds(got["pia"]) == ["row", "counts"] and kinds(got["maria"]) == ["row", "counts", "counts"]

        # A mention reaches only the colleague named.
        await sync(add_note)(conversation=conversation, author=maria, text="@pia have a look")
        got = await heard(sockets)
        assert "mention" in kinds(got["pia"]) and "mention" not in kinds(got["sam"]) + kinds(got["maria"])
        await close_all(sockets)

    run(scenario)


def test_events_reach_the_socket_while_web_requests_hold_the_sync_thread(people):
    """Under a storm Django's one sync thread is busy with requests; pushing an event must not wait for it."""
    sessions = {"sam": session_of(people["sam"])}
    queue_id = Queue.objects.get(slug="service").pk

    async def scenario():
        sockets = await connected(sessions)
        busy = asyncio.ensure_future(sync(time.sleep)(2))  # a slow request in the thread-sensitive worker
        await asyncio.sleep(0.05)
        await get_channel_layer().group_send(live.queue_group(queue_id), {"type": "live.event", "html": "<p>now</p>"})
        assert await sockets["sam"].receive_from(timeout=1) == "<p>now</p>"
        assert not busy.done()
        await busy
        await close_all(sockets)

    run(scenario)


def test_leaving_a_queue_stops_delivery_at_once(people):
    sessions = {"sam": session_of(people["sam"])}
    conversation = make_conversation("service", text="Secret now")

    async def scenario():
        sockets = await connected(sessions)
        await sync(people["sam"].queues.clear)()  # an admin takes Sam off the service queue
        await sockets["sam"].receive_nothing(timeout=0.3)
        await sync(live.publish)([conversation.pk])
        assert (await heard(sockets))["sam"] == []
        await close_all(sockets)

    run(scenario)


def test_a_password_change_closes_the_persons_sockets(people):
    sessions = {"sam": session_of(people["sam"])}
    sam = people["sam"]

    def change_password():
        sam.set_password("a-New-passw0rd-2026")
        sam.save()

    async def scenario():
        sockets = await connected(sessions)
        await sync(change_password)()
        output = await sockets["sam"].receive_output(timeout=1)
        assert output == {"type": "websocket.close", "code": 4403, "reason": ""} or output["code"] == 4403

    run(scenario)


@pytest.mark.parametrize(
    "frame",
    [
        {"bytes_data": b"\x00\x01"},
        {"text_data": "not json"},
        {"text_data": "x" * 1_000_000},
        {"text_data": json.dumps({"type": "live_event", "html": "<script>"})},
        {"text_data": json.dumps({"type": "websocket_disconnect"})},
        {"text_data": json.dumps({"type": "live.close"})},
        {"text_data": json.dumps(["viewing", 1])},
        {"text_data": json.dumps({"type": "viewing", "conversation": "1; DROP"})},
    ],
    ids=["binary", "not-json", "1MB", "method-name", "disconnect-name", "layer-type", "array", "bad-id"],
)
def test_anything_but_a_known_small_message_closes_the_socket(people, frame, monkeypatch):
    from channels.layers import InMemoryChannelLayer
    from channels_redis.core import RedisChannelLayer

    sent = []
    for layer in (InMemoryChannelLayer, RedisChannelLayer):

        async def spy(self, group, message, original=layer.group_send):
            sent.append(message)
            return await original(self, group, message)

        monkeypatch.setattr(layer, "group_send", spy)
    session = session_of(people["sam"])

    async def scenario():
        communicator = socket(session)
        await communicator.connect()
        await communicator.receive_from()
        await communicator.send_to(**frame)
        output = await communicator.receive_output(timeout=1)
        assert output["type"] == "websocket.close"

    run(scenario)
    assert sent == []


def test_presence_is_shared_with_those_who_may_see_the_conversation_only(people):
    sessions = {name: session_of(user) for name, user in people.items()}
    conversation = make_conversation("service")
    hidden = make_conversation("pr")

    async def scenario():
        sockets = await connected(sessions)
        await sockets["sam"].send_to(text_data=json.dumps({"type": "viewing", "conversation": conversation.pk}))
        got = await heard(sockets)
        assert kinds(got["sam"]) == ["presence"] and kinds(got["maria"]) == ["presence"] and got["pia"] == []
        assert ">sam</li>" in got["maria"][0]
        # Sam opens one not his to see: he has left the first (so say), and of the other nothing is said.
        await sockets["sam"].send_to(text_data=json.dumps({"type": "viewing", "conversation": hidden.pk}))
        got = await heard(sockets)
        assert got["pia"] == [] and all(f'data-conversation="{hidden.pk}"' not in m for m in got["maria"] + got["sam"])
        assert got["maria"] == [
            f'<template data-live="presence" data-conversation="{conversation.pk}"></template><ul></ul>'
        ]
        await close_all(sockets)

    run(scenario)


def test_a_manager_made_agent_stops_hearing_other_queues_at_once(people):
    from django.contrib.auth.models import Group

    maria = people["maria"]
    sessions = {"maria": session_of(maria)}
    pr_case, service_case = make_conversation("pr", text="PR only"), make_conversation("service")
    Queue.objects.get(slug="service").members.add(maria)  # a manager who also works the service queue

    async def scenario():
        sockets = await connected(sessions)
        await sync(maria.groups.set)([await sync(Group.objects.get)(name="agent")])  # only the role changes
        await sockets["maria"].receive_nothing(timeout=0.3)
        await sync(live.publish)([pr_case.pk, service_case.pk])
        got = (await heard(sockets))["maria"]
        assert "PR only" not in "".join(got) and "count-pr" not in "".join(got)
        assert f'data-conversation="{service_case.pk}"' in "".join(got)
        await close_all(sockets)

    run(scenario)


def test_a_flood_of_presence_messages_is_not_passed_on(people):
    sessions = {name: session_of(people[name]) for name in ("sam", "maria")}
    conversation = make_conversation("service")

    async def scenario():
        sockets = await connected(sessions)
        for _ in range(100):
            await sockets["sam"].send_to(text_data=json.dumps({"type": "typing", "conversation": conversation.pk}))
        got = await heard(sockets)
        assert 1 <= len(got["maria"]) <= 2  # "viewing and typing" once, not a hundred times
        await close_all(sockets)

    run(scenario)


def test_losing_access_takes_the_persons_name_off_the_conversation(people):
    sam = people["sam"]
    sessions = {name: session_of(people[name]) for name in ("sam", "maria")}
    conversation = make_conversation("service")

    async def scenario():
        sockets = await connected(sessions)
        await sockets["sam"].send_to(text_data=json.dumps({"type": "viewing", "conversation": conversation.pk}))
        assert ">sam</li>" in (await heard(sockets))["maria"][0]
        await sync(sam.queues.clear)()
        got = await heard(sockets)
        assert got["maria"][-1].endswith("<ul></ul>")  # gone at once, not in 45 seconds
        await close_all(sockets)

    run(scenario)


def test_a_password_made_unusable_closes_the_persons_sockets_too(people):
    sam = people["sam"]
    sessions = {"sam": session_of(sam)}

    def lock_out():
        sam.set_unusable_password()
        sam.save()

    async def scenario():
        sockets = await connected(sessions)
        await sync(lock_out)()
        output = await sockets["sam"].receive_output(timeout=1)
        assert output["type"] == "websocket.close" and output["code"] == 4403

    run(scenario)


def test_an_expired_session_or_a_password_changed_behind_the_signals_ends_the_socket(people, monkeypatch):
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password
    from django.contrib.sessions.models import Session

    from inbox import consumers

    monkeypatch.setattr(consumers, "RECHECK_SECONDS", 0.2)
    sam, maria = people["sam"], people["maria"]
    sessions = {"sam": session_of(sam), "maria": session_of(maria)}

    async def scenario():
        sockets = await connected(sessions)
        await sync(Session.objects.filter(session_key=sessions["sam"]).delete)()  # expired and swept
        await sync(get_user_model().objects.filter(pk=maria.pk).update)(password=make_password("x"))  # no signal
        assert (await sockets["sam"].receive_output(timeout=2))["code"] == 4401
        assert (await sockets["maria"].receive_output(timeout=2))["code"] == 4403

    run(scenario)
