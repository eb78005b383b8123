from datetime import UTC, datetime

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from inbox.models import Channel
from inbox.tokens import channel_with_token
from socialcrm.models import ApiToken, hash_token
from triage.models import Queue


@pytest.mark.django_db
def test_models_and_migrations_agree():
    # Exits with SystemExit(1) if a model change has no migration.
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)


@pytest.mark.django_db
def test_the_five_default_queues_exist_after_migrate():
    assert list(Queue.objects.order_by("position").values_list("slug", flat=True)) == [
        "service",
        "pr",
        "marketing",
        "sales",
        "product",
    ]
    assert all(queue.sla_policy for queue in Queue.objects.all())


@pytest.mark.django_db
def test_role_groups_exist_with_their_permissions():
    def codes(name):
        group = Group.objects.get(name=name)
        return {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.select_related("content_type")}

    agent, manager, admin = codes("agent"), codes("manager"), codes("admin")
    assert {"inbox.view_conversation", "inbox.change_conversation", "inbox.add_note"} <= agent
    assert "triage.change_routingrule" not in agent
    assert "inbox.change_cannedreply" in manager and "inbox.change_cannedreply" not in agent
    assert {"triage.change_routingrule", "triage.change_queue", "auth.add_user", "inbox.change_channel"} <= admin
    assert agent < admin


def migrate_to(*targets):
    """The database migrated to `targets`, and the models as they were there."""
    executor = MigrationExecutor(connection)
    executor.migrate(list(targets))
    return MigrationExecutor(connection).loader.project_state(list(targets)).apps


BEFORE_POLL_STATE = ("inbox", "0012_encrypt_channel_secrets")


@pytest.mark.django_db(transaction=True)
def test_poll_state_moves_out_of_config_into_its_columns_and_back():
    leaves = MigrationExecutor(connection).loader.graph.leaf_nodes()
    old = migrate_to(BEFORE_POLL_STATE).get_model("inbox", "Channel")
    feed = {"feed_url": "https://community.kestrel.example/latest.rss", "poll_seconds": 900}
    polled = {"last_polled_at": "2026-11-23T08:55:41.123456+00:00", "last_error": "The feed answered HTTP 500."}
    old.objects.create(
        slug="forum",
        name="a",
        kind="rss",
        network="forum",
        config={**feed, **polled, "etag": '"v1"', "last_modified": ""},
    )
    mailbox = {"host": "imap.kestrel.example", "username": "support"}
    old.objects.create(
        slug="mail",
        name="b",
        kind="email",
        network="email",
        config={**mailbox, "uidvalidity": 7, "last_uid": "4294967295"},
    )
    old.objects.create(
        slug="garbled", name="c", kind="email", network="email", config={"last_uid": "n/a", "last_polled_at": "soon"}
    )
    old.objects.create(slug="webhook", name="d", kind="webhook", network="web", config=["not", "a", "dict"])
    try:
        migrate_to(*leaves)

        channels = {channel.slug: channel for channel in Channel.objects.all()}
        forum, mail, garbled = channels["forum"], channels["mail"], channels["garbled"]
        assert forum.config == feed  # only what an admin set
        assert forum.last_polled_at == datetime(2026, 11, 23, 8, 55, 41, 123456, tzinfo=UTC)
        assert (forum.last_poll_error, forum.feed_etag, forum.feed_last_modified) == (polled["last_error"], '"v1"', "")
        assert mail.config == mailbox
        assert (mail.mailbox_uidvalidity, mail.mailbox_last_uid) == (7, 4294967295)
        # What no poller wrote starts over: the mailbox is read from its first UID, and polled now.
        assert (garbled.config, garbled.mailbox_last_uid, garbled.last_polled_at) == ({}, 0, None)
        assert channels["webhook"].config == ["not", "a", "dict"]

        back = {
            channel.slug: channel
            for channel in migrate_to(BEFORE_POLL_STATE).get_model("inbox", "Channel").objects.all()
        }
        assert back["forum"].config == {**feed, **polled, "etag": '"v1"'}
        assert back["mail"].config == {**mailbox, "uidvalidity": 7, "last_uid": 4294967295}
        assert back["webhook"].config == ["not", "a", "dict"]
    finally:
        migrate_to(*leaves)


BEFORE_ONE_TOKEN_SYSTEM = ("inbox", "0013_channel_poll_state")


@pytest.mark.django_db(transaction=True)
def test_a_channel_token_in_use_goes_on_working_as_an_api_token_and_comes_back():
    leaves = MigrationExecutor(connection).loader.graph.leaf_nodes()
    old = migrate_to(BEFORE_ONE_TOKEN_SYSTEM).get_model("inbox", "Channel")
    secret = "scrm_issued-before-the-move"
    old.objects.create(slug="hook", name="a", kind="webhook", network="web", token_hash=hash_token(secret))
    old.objects.create(slug="feed", name="b", kind="rss", network="forum", token_hash="")
    try:
        migrate_to(*leaves)

        assert channel_with_token("hook", secret).slug == "hook"
        assert channel_with_token("hook", secret + "x") is None
        assert Channel.objects.get(slug="feed").api_token is None
        assert list(ApiToken.objects.values_list("name", "scope")) == [("Channel hook", "ingest")]

        back = migrate_to(BEFORE_ONE_TOKEN_SYSTEM).get_model("inbox", "Channel").objects.order_by("slug")
        assert [(channel.slug, channel.token_hash) for channel in back] == [("feed", ""), ("hook", hash_token(secret))]
        assert not ApiToken.objects.exists()
    finally:
        migrate_to(*leaves)
