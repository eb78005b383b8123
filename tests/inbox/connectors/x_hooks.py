"""Deliveries as X sends them to an account's Account Activity webhook: recorded payloads (tests/fixtures/x),
signed with the test app's consumer secret. For the connector's tests and the attacks on its door."""

import base64
import hashlib
import hmac
import json

from customers.models import Network
from inbox.models import Channel
from tests import helpers
from tests.factories import make_channel, with_secrets

FIXTURES = helpers.FIXTURES / "x"
CONSUMER_SECRET = "Zr4kQ9mB2xT7vL1nC8pW3sY6hJ0dF5gA9eK2uN7oR4iM1tV8bX"


def fixture(name: str) -> bytes:
    return (FIXTURES / f"{name}.json").read_bytes()


def payload(name: str) -> dict:
    return json.loads(fixture(name))


def sign(body: bytes, secret: str = CONSUMER_SECRET) -> str:
    return "sha256=" + base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def deliver(client, channel: Channel, body: bytes | dict, *, signature: str | None = None):
    """POST a delivery as X does: the raw bytes, signed with the consumer secret unless told otherwise."""
    body = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"x-twitter-webhooks-signature": sign(body) if signature is None else signature}
    return client.post(f"/webhooks/x/{channel.slug}", data=body, content_type="application/json", headers=headers)


def x_channel(slug: str = "kestrel-x") -> Channel:
    channel = make_channel(slug, network=Network.X, kind=Channel.Kind.X)
    return with_secrets(channel, consumer_secret=CONSUMER_SECRET)
