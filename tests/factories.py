"""Small builders for test data, named for what they make."""

import importlib
import itertools
import json
import time
from datetime import timedelta

from allauth.mfa.totp.internal.auth import TOTP, format_hotp_value, hotp_value
from django.apps import apps
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils import timezone

from customers.models import Customer, Identity, Network
from inbox.models import Channel, Conversation, Message
from socialcrm.roles import sync_role_groups
from triage.models import Queue

_numbers = itertools.count(1)
_default_queues = importlib.import_module("triage.migrations.0002_default_queues")
_default_rules = importlib.import_module("triage.migrations.0004_default_rules")
PASSWORD = "a-Long-test-passw0rd"
# Managers and admins must have a second factor; test ones share this authenticator-app secret.
TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


def ensure_migrated_data() -> None:
    """Recreate what the data migrations make (role groups, default queues and routing rules).

    Transactional tests flush the database afterwards, taking that data with it.
    """
    sync_role_groups(apps)
    _default_queues.create_default_queues(apps, None)
    _default_rules.create_default_rules(apps, None)


def make_user(
    username: str | None = None, *, role: str = "agent", queues: tuple[str, ...] = (), second_factor: bool = True
):
    """A user of a role; managers and admins come with an authenticator app enrolled (TOTP_SECRET)."""
    username = username or f"user{next(_numbers)}"
    user = get_user_model().objects.create_user(
        username=username, email=f"{username}@example.com", password=PASSWORD, is_staff=role == "admin"
    )
    user.groups.set([Group.objects.get(name=role)])
    user.queues.set(Queue.objects.filter(slug__in=queues))
    if second_factor and role in ("manager", "admin"):
        TOTP.activate(user, TOTP_SECRET)
    return user


def totp_code(secret: str = TOTP_SECRET) -> str:
    """What the authenticator app shows now."""
    return format_hotp_value(hotp_value(secret, int(time.time()) // 30))


def make_channel(slug: str = "x-main", *, network: str = Network.X, kind: str = Channel.Kind.X) -> Channel:
    channel, _ = Channel.objects.get_or_create(slug=slug, defaults={"name": slug, "kind": kind, "network": network})
    return channel


def with_secrets(channel: Channel, **secrets: str) -> Channel:
    """The channel with exactly these secrets (encrypted, as admin stores them), saved."""
    channel.discard_secrets()
    for name, value in secrets.items():
        channel.set_secret(name, value)
    channel.save()
    return channel


def make_customer(name: str = "Dana Scully", **fields) -> Customer:
    return Customer.objects.create(name=name, **fields)


def make_conversation(
    queue: str | None = "service",
    *,
    text: str = "My phone has no signal",
    status: str = Conversation.Status.NEW,
    customer: Customer | None = None,
    channel: Channel | None = None,
    **fields,
) -> Conversation:
    """A conversation with one inbound message from a customer with an identity on the channel's network."""
    channel = channel or make_channel()
    customer = customer or make_customer()
    identity, _ = Identity.objects.get_or_create(
        network=channel.network,
        external_id=f"author-{customer.pk}",
        defaults={"customer": customer, "handle": f"@customer{customer.pk}", "followers": 120},
    )
    now = timezone.now()
    if status == Conversation.Status.RESOLVED:
        fields.setdefault("resolved_at", now)
    if status == Conversation.Status.SNOOZED:
        fields.setdefault("snoozed_until", now + timedelta(hours=2))
    conversation = Conversation.objects.create(
        customer=customer,
        channel=channel,
        queue=Queue.objects.get(slug=queue) if queue else None,
        status=status,
        snippet=text[:200],
        last_message_at=now,
        **fields,
    )
    Message.objects.create(
        channel=channel,
        conversation=conversation,
        external_id=f"m-{next(_numbers)}",
        author=identity,
        text=text,
        posted_at=now,
    )
    return conversation


def channel_admin_form(channel: Channel, **changes) -> dict:
    """A channel's admin change form as a browser submits it untouched (every secret box empty), with `changes`."""
    form = {
        "slug": channel.slug,
        "name": channel.name,
        "kind": channel.kind,
        "network": channel.network,
        "is_active": "on",
        "config": json.dumps(channel.config),
        "default_queue": "",
        "reopen_window_hours": channel.reopen_window_hours,
        "rate_limit_per_minute": channel.rate_limit_per_minute,
    }
    return {**form, **changes}
