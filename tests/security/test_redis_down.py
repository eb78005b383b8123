"""Redis really unreachable (a port nothing listens on): what was stored is acknowledged and processed
once Redis is back; what could not be stored is a JSON 503 with Retry-After; people get a clear page."""

import socket
from contextlib import contextmanager

import pytest
from channels.layers import channel_layers
from django.test import Client, override_settings

from inbox import live
from inbox.models import Message
from inbox.tasks import sweep_lost_messages
from socialcrm.celery import app as celery_app
from tests.factories import PASSWORD, make_user
from tests.helpers import MENTION, nothing_stored, post_mention
from tests.inbox.connectors import meta_hooks

pytestmark = pytest.mark.django_db


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # free again once closed: nothing listens there


@contextmanager
def redis_unreachable():
    """Cache, channel layer and Celery broker all pointed at a port with nothing listening."""
    dead = f"redis://127.0.0.1:{_closed_port()}/0"
    cache = {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": dead,
        "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
    }
    layer = {"BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer", "CONFIG": {"hosts": [dead]}}
    eager, broker = celery_app.conf.task_always_eager, celery_app.conf.broker_url
    with override_settings(CACHES={"default": cache}, CHANNEL_LAYERS={"default": layer}):
        channel_layers.backends.clear()
        celery_app.conf.update(task_always_eager=False, broker_url=dead)
        _forget_broker_connections()
        try:
            yield
        finally:
            celery_app.conf.update(task_always_eager=eager, broker_url=broker)
            _forget_broker_connections()
            channel_layers.backends.clear()


@pytest.fixture
def redis_down():
    with redis_unreachable():
        yield


def _forget_broker_connections():
    """Celery keeps its connection and producer pools; the next publish builds them from broker_url again."""
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


def test_the_ingest_api_answers_503_with_retry_after_and_stores_nothing(ingest_token, redis_down):
    response = post_mention(Client(raise_request_exception=False), MENTION, token=ingest_token)

    assert response.status_code == 503
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["Retry-After"] == "30"
    assert "nothing was stored" in response.json()["error"]
    assert nothing_stored()


def test_a_meta_delivery_that_was_stored_is_acknowledged_and_triaged_when_redis_is_back(
    db, monkeypatch, django_capture_on_commit_callbacks
):
    """Also the fault of a process dying between commit and enqueue: the task was never sent."""
    page = meta_hooks.meta_channel("kestrel-facebook", "facebook")

    with redis_unreachable():
        response = meta_hooks.deliver(Client(raise_request_exception=False), page, meta_hooks.fixture("page_comments"))

    assert response.status_code == 200  # kept: Meta must not deliver it again
    stored = Message.objects.filter(channel=page)
    assert stored.count() == 2 and {m.triage_state for m in stored} == {Message.TriageState.QUEUED}

    # Redis is back: the beat's sweep enqueues them and the worker (in-process here) triages them,
    # and their rows go out live to the queue's stream.
    sent = []
    monkeypatch.setattr(live, "_send", lambda sends: sent.extend(sends) or True)
    with django_capture_on_commit_callbacks(execute=True):
        assert sweep_lost_messages(older_than_seconds=0) == 2
    assert {m.triage_state for m in stored.all()} == {Message.TriageState.TRIAGED}
    queues = {live.queue_group(m.conversation.queue_id) for m in stored.select_related("conversation")}
    rows = [group for group, message in sent if 'data-live="row"' in message.get("html", "")]
    assert queues <= set(rows)


def test_signing_in_gives_a_clear_page_not_a_bare_500(db, redis_down):
    make_user("sam", role="agent", queues=("service",))

    response = Client(raise_request_exception=False).post("/accounts/login/", {"login": "sam", "password": PASSWORD})

    assert response.status_code == 503
    assert response.headers["Retry-After"] == "30"
    assert "Back in a moment" in response.content.decode()
    assert "Nothing" in response.content.decode() and "Traceback" not in response.content.decode()
