"""What several test modules share that is not a model factory (tests/factories.py) or a fixture
(tests/conftest.py): the recorded fixtures' tree, the URL walker, threads that race, and the API
calls the contract tests and the security tests both make."""

import json
import re
import threading
from io import StringIO
from pathlib import Path

from django.core.management import call_command
from django.db import connections
from django.urls import URLPattern, URLResolver

from customers.models import Customer
from inbox.mentions import IncomingAuthor, IncomingMention
from inbox.models import Conversation, Message
from inbox.services.replies import reply
from tests.factories import make_channel, make_conversation, with_secrets

# Recorded payloads (webhooks, feeds, mailboxes, provider answers), one tree for every test module.
FIXTURES = Path(__file__).resolve().parent / "fixtures"

# --- URLs ---


def walk(resolver: URLResolver, prefix: str = "", namespace: str = ""):
    """Every (name, route) of a URL conf, namespaces and includes followed."""
    for pattern in resolver.url_patterns:
        if isinstance(pattern, URLResolver):
            inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            yield from walk(pattern, prefix + str(pattern.pattern), inner)
        elif isinstance(pattern, URLPattern):
            name = f"{namespace}{pattern.name}" if pattern.name else None
            yield name, prefix + str(pattern.pattern)


def example_path(route: str) -> str:
    """A concrete path for a route, with 1 (or 'x') in place of each parameter."""
    path = re.sub(r"<(?:int:)?\w+>", "1", route)
    path = re.sub(r"<\w+:\w+>", "x", path)
    path = re.sub(r"\(\?P<\w+>[^)]*\)", "1", path)
    return "/" + path.lstrip("^").rstrip("$").replace("\\", "")


# --- Races ---


def run_concurrently(*jobs) -> list[Exception]:
    """Start every job at the same moment, each in a thread with its own connection; their errors."""
    barrier = threading.Barrier(len(jobs))
    errors = []

    def worker(job):
        try:
            barrier.wait()
            job()
        except Exception as error:
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


# --- Mentions and the ingest API ---

MENTION = {"external_id": "t1", "text": "My bill doubled", "author": {"external_id": "u1", "handle": "@dana"}}


def mention(external_id, text="Hello", *, author="u1", **fields) -> IncomingMention:
    """A parsed mention, as a connector hands it to ingest."""
    author_fields = fields.pop("author_fields", {})
    return IncomingMention(
        external_id=external_id, text=text, author=IncomingAuthor(external_id=author, **author_fields), **fields
    )


def nothing_stored() -> bool:
    return not Message.objects.exists() and not Customer.objects.exists() and not Conversation.objects.exists()


def add_channel(slug="hook", *extra) -> dict:
    """A webhook channel made as an admin makes one (manage.py add_channel); what the command printed."""
    out = StringIO()
    call_command(
        "add_channel", "--kind", "webhook", "--name", slug.title(), "--slug", slug, *extra,
        stdout=out, stderr=StringIO(),
    )  # fmt: skip
    return json.loads(out.getvalue())


def post_mention(client, body, *, token, slug="hook", content_type="application/json"):
    data = body if isinstance(body, (str, bytes)) else json.dumps(body)
    return client.post(
        f"/api/v1/channels/{slug}/mentions",
        data=data,
        content_type=content_type,
        headers={"Authorization": f"Bearer {token}"},
    )


# --- The triage preview API ---

PREVIEW_URL = "/api/v1/triage/preview"


def add_triage_token() -> str:
    """A triage token made as an admin makes one (manage.py add_api_token), printed once on one line."""
    out = StringIO()
    call_command("add_api_token", "--scope", "triage", "--name", "harness", stdout=out)
    line = out.getvalue().strip()
    assert "\n" not in line
    return json.loads(line)["token"]


def post_preview(client, body, token=None, **headers):
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    return client.post(PREVIEW_URL, data, content_type="application/json", headers=headers)


# --- The conversation pane and replies ---

HX = {"HX-Request": "true", "HX-Target": "conversation-pane"}  # what htmx sends from the pane


def conversation_on(kind: str, network: str, *, private: bool = False, **secrets) -> Conversation:
    channel = make_channel(f"{kind}-main", network=network, kind=kind)
    with_secrets(channel, **secrets)
    conversation = make_conversation("service", channel=channel, text="No signal since Monday")
    Message.objects.filter(conversation=conversation).update(external_id="post-123", is_private=private)
    return conversation


def queued_reply(conversation, agent, *, private=False, text="Sorry about that! We're on it."):
    return reply(conversation=conversation, text=text, private=private, by=agent)
