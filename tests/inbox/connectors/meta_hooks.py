"""Deliveries as Meta sends them to a Facebook Page's or Instagram account's webhook: recorded payloads
(tests/fixtures/meta), signed with the test app's secret. For the connector's tests and the attacks on its door."""

import hashlib
import hmac
import json

from inbox.models import Channel
from tests import helpers
from tests.factories import make_channel, with_secrets

FIXTURES = helpers.FIXTURES / "meta"
APP_SECRET = "8d3c1f6a2b9e4d7c0a5f3e8b1d6c9a2f"
VERIFY_TOKEN = "kestrel-hub-verify-7Qm2xT9"


def fixture(name: str) -> bytes:
    return (FIXTURES / f"{name}.json").read_bytes()


def payload(name: str) -> dict:
    return json.loads(fixture(name))


def sign(body: bytes, secret: str = APP_SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def deliver(client, channel: Channel, body: bytes | dict, *, signature: str | None = None):
    """POST a delivery as Meta does: the raw bytes, signed with the app secret unless told otherwise."""
    body = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"X-Hub-Signature-256": sign(body) if signature is None else signature}
    return client.post(f"/webhooks/meta/{channel.slug}", data=body, content_type="application/json", headers=headers)


def meta_channel(slug: str, kind: str) -> Channel:
    channel = make_channel(slug, network=kind, kind=kind)
    return with_secrets(channel, app_secret=APP_SECRET, verify_token=VERIFY_TOKEN)
