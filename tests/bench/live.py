"""Live inbox latency: from the ingest API to the row fragment on a watching agent's socket.

    .venv/bin/python tests/bench/live.py [--seconds 30] [--rate 50] [--sockets 100]

Against PostgreSQL + Redis + one Daphne + one Celery worker on this machine (tests/bench/harness.py).
100 agents of the service queue hold /ws/inbox/ open while mentions arrive through the ingest API at
50 a second. For every mention and every socket, the time from sending the request (and from its
202) to the first row fragment naming it, split at the moment the row event reaches the queue's stream
in Redis (after the worker's triage). Target (issue 6): p95 <= 150 ms. Daphne's memory before and after.
Then the floor: a bare `websockets` broadcast server (tests/bench/ws_floor.py) relaying the
same rate to the same number of sockets on this machine.
"""

import argparse
import asyncio
import json
import re
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import websockets
from redis import asyncio as aioredis

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.bench.harness import BASE_URL, PORT, REDIS_URL, Process, add_channel, manage, percentile, sql, stack

MARKER = re.compile(r"Live bench (\d+):")
SESSIONS = """
import json
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.contrib.auth.models import Group
from django.contrib.sessions.backends.db import SessionStore
from triage.models import Queue
service, agent_role = Queue.objects.get(slug="service"), Group.objects.get(name="agent")
keys = []
for n in range({count}):
    user = get_user_model().objects.create_user(username=f"live-agent-{{n}}", password=None)
    user.groups.add(agent_role)
    service.members.add(user)
    session = SessionStore()
    session[SESSION_KEY], session[BACKEND_SESSION_KEY] = str(user.pk), "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    keys.append(session.session_key)
print(json.dumps(keys))
"""


async def watch(url: str, headers: dict, arrivals: dict, ready: asyncio.Event, opened: list) -> None:
    async with websockets.connect(url, additional_headers=headers, max_size=2**20) as socket:
        await socket.recv()  # hello
        opened.append(1)
        ready.set()
        async for message in socket:
            now = time.perf_counter()
            if 'data-live="row"' in message:  # a frame may carry several events
                for number in MARKER.findall(message):
                    arrivals.setdefault(int(number), now)


async def send_mentions(token: str, *, rate: int, seconds: int, batch: int, sent: dict, accepted: dict) -> int:
    """`rate` mentions a second for `seconds`, in requests of `batch` mentions; returns how many went late."""
    headers = {"Authorization": f"Bearer {token}"}
    late = 0
    async with httpx.AsyncClient(base_url=BASE_URL, timeout=60, headers=headers) as client:
        start = time.perf_counter() + 0.5
        tasks = []
        for first in range(0, rate * seconds, batch):
            pause = start + first / rate - time.perf_counter()
            if pause > 0:
                await asyncio.sleep(pause)
            else:
                late += 1
            tasks.append(asyncio.create_task(_post(client, range(first, first + batch), sent, accepted)))
        await asyncio.gather(*tasks)
    return late


async def _post(client, numbers: range, sent: dict, accepted: dict) -> None:
    mentions = [
        {
            "external_id": f"live-{number}",
            "text": f"Live bench {number}: no signal in Leeds since this morning, please help",
            "author": {"external_id": f"live-author-{number}", "handle": f"@live{number}", "followers": 10},
        }
        for number in numbers
    ]
    now = time.perf_counter()
    sent.update(dict.fromkeys(numbers, now))
    body = {"mentions": mentions} if len(mentions) > 1 else mentions[0]
    response = await client.post("/api/v1/channels/bench/mentions", json=body)
    response.raise_for_status()
    accepted.update(dict.fromkeys(numbers, time.perf_counter()))


async def probe(group: str, published: dict, ready: asyncio.Event) -> None:
    """When each mention's row event reaches the watchers' stream in Redis (splits the latency in two)."""
    client = aioredis.Redis.from_url(REDIS_URL)
    async with client.pubsub() as pubsub:
        prefix = f"socialcrm:{urlsplit(REDIS_URL).path.strip('/') or '0'}:asgi"  # as settings.LIVE_PREFIX
        await pubsub.subscribe(f"{prefix}__group__{group}")
        ready.set()
        async for message in pubsub.listen():
            now = time.perf_counter()
            if message["type"] == "message":
                for number in MARKER.findall(message["data"].decode(errors="replace")):
                    published.setdefault(int(number), now)


async def measure_live(token: str, sessions: list[str], group: str, *, rate: int, seconds: int, batch: int) -> dict:
    url = f"ws://127.0.0.1:{PORT}/ws/inbox/"
    published, probing = {}, asyncio.Event()
    prober = asyncio.create_task(probe(group, published, probing))
    await probing.wait()
    per_socket = [dict() for _ in sessions]
    ready, opened = asyncio.Event(), []
    watchers = [
        asyncio.create_task(
            watch(url, {"Cookie": f"sessionid={key}", "Origin": BASE_URL}, per_socket[i], ready, opened)
        )
        for i, key in enumerate(sessions)
    ]
    while len(opened) < len(sessions):
        await asyncio.sleep(0.1)
    sent, accepted = {}, {}
    late = await send_mentions(token, rate=rate, seconds=seconds, batch=batch, sent=sent, accepted=accepted)
    await asyncio.sleep(3)  # the stragglers
    for task in [*watchers, prober]:
        task.cancel()
    to_redis = [(published[n] - accepted[n]) * 1000 for n in sent if n in published]
    from_redis = [(arrivals[n] - published[n]) * 1000 for arrivals in per_socket for n in arrivals if n in published]
    from_send, from_202, missing = [], [], 0
    for arrivals in per_socket:
        for number, at in sent.items():
            if number in arrivals:
                from_send.append((arrivals[number] - at) * 1000)
                from_202.append((arrivals[number] - accepted[number]) * 1000)
            elif number in published:  # others were routed by triage to a queue these agents do not see
                missing += 1
    return {
        "elsewhere": len(sent) - len(published),
        "to_redis": to_redis,
        "from_redis": from_redis,
        "from_send": from_send,
        "from_202": from_202,
        "missing": missing,
        "late": late,
        "mentions": len(sent),
    }


async def measure_floor(port: int, *, sockets: int, rate: int, seconds: int) -> list[float]:
    url = f"ws://127.0.0.1:{port}"
    latencies: list[float] = []

    async def listen(ready: list):
        async with websockets.connect(url) as socket:
            ready.append(1)
            async for message in socket:
                latencies.append((time.perf_counter() - float(message)) * 1000)

    ready: list = []
    listeners = [asyncio.create_task(listen(ready)) for _ in range(sockets)]
    while len(ready) < sockets:
        await asyncio.sleep(0.1)
    async with websockets.connect(url) as publisher:
        start = time.perf_counter()
        for number in range(rate * seconds):
            pause = start + number / rate - time.perf_counter()
            if pause > 0:
                await asyncio.sleep(pause)
            await publisher.send(repr(time.perf_counter()))
        await asyncio.sleep(1)
    for task in listeners:
        task.cancel()
    return latencies


def figures(values: list[float]) -> str:
    return " / ".join(f"{percentile(values, share):.0f}" for share in (0.5, 0.95, 0.99)) + " ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--rate", type=int, default=50)
    parser.add_argument("--sockets", type=int, default=100)
    parser.add_argument("--batch", type=int, default=5, help="mentions per ingest request (connectors batch)")
    options = parser.parse_args()
    with stack() as processes:
        token = add_channel()
        sql("UPDATE inbox_channel SET default_queue_id = (SELECT id FROM triage_queue WHERE slug = 'service')")
        sessions = json.loads(manage("shell", "-c", SESSIONS.format(count=options.sockets)).strip().splitlines()[-1])
        (service_id,) = sql("SELECT id FROM triage_queue WHERE slug = 'service'")[0]
        group = f"live.queue.{service_id}"
        before = processes["daphne"].rss_mb()
        result = asyncio.run(
            measure_live(token, sessions, group, rate=options.rate, seconds=options.seconds, batch=options.batch)
        )
        after = processes["daphne"].rss_mb()
        print(
            f"socialcrm: {options.sockets} agent sockets, {result['mentions']:,} mentions at {options.rate}/s in "
            f"requests of {options.batch} ({result['late']} requests behind schedule); "
            f"{len(result['from_send']):,} fragments measured, "
            f"{result['missing']:,} (socket, mention) pairs without one; {result['elsewhere']} mentions routed by "
            "triage to another queue (not measured)"
        )
        print(f"  request sent -> row fragment on the socket, p50 / p95 / p99: {figures(result['from_send'])}")
        print(f"  202 received -> row fragment on the socket, p50 / p95 / p99: {figures(result['from_202'])}")
        print(f"    of which 202 -> row event published to Redis (worker, triage): {figures(result['to_redis'])}")
        print(f"    and Redis -> row fragment on the socket (Daphne, Channels): {figures(result['from_redis'])}")
        print(f"  Daphne resident memory: {before:.0f} MB with the sockets idle, {after:.0f} MB after the run")
    floor_port = PORT + 1
    server = Process("ws_floor", [sys.executable, "tests/bench/ws_floor.py", str(floor_port)])
    try:
        time.sleep(1)
        floor = asyncio.run(
            measure_floor(floor_port, sockets=options.sockets, rate=options.rate, seconds=options.seconds)
        )
        print(f"floor: bare websockets broadcast to {options.sockets} sockets at {options.rate}/s")
        print(f"  sent -> received, p50 / p95 / p99: {figures(floor)}; server memory {server.rss_mb():.0f} MB")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
