"""Channel secrets (app secrets, access tokens, mailbox passwords): encrypted at rest, never shown or logged."""

import hashlib
import hmac
import io
import json
import os
import stat
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pytest
from cryptography.fernet import Fernet
from django.contrib.admin.models import LogEntry
from django.core import mail
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.views.debug import ExceptionReporter

from inbox import senders
from inbox.models import Channel, SecretsUnreadable
from socialcrm import env
from tests.factories import channel_admin_form, make_channel, make_conversation, make_user, with_secrets

ROOT = Path(__file__).resolve().parents[2]
KEY = Fernet.generate_key().decode()
NEW_KEY = Fernet.generate_key().decode()
SECRETS = {
    "app_secret": "app-secret-7Yq2Lm9Xw4",
    "page_access_token": "EAAB-page-token-K3v8Rt1",
    "password": "mailbox-pässwörd-🔑-Zx5",
}


@pytest.fixture(autouse=True)
def channel_secrets_key(settings):
    settings.CHANNEL_SECRETS_KEYS = [KEY]


@pytest.fixture
def facebook_page(db):
    channel = make_channel("kestrel-facebook", network="facebook", kind=Channel.Kind.FACEBOOK)
    return with_secrets(channel, **SECRETS)


def revealed(text: str) -> list[str]:
    """The secret values (or their JSON-escaped forms) that appear in `text`."""
    forms = {value for secret in SECRETS.values() for value in (secret, json.dumps(secret)[1:-1])}
    return sorted(value for value in forms if value in text)


def raw_channel_rows() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM inbox_channel")
        return repr(cursor.fetchall())


# Storage


def test_database_dump_does_not_reveal_channel_secrets(facebook_page):
    dump = io.StringIO()
    call_command("dumpdata", "inbox.channel", stdout=dump)

    assert revealed(raw_channel_rows()) == []
    assert revealed(dump.getvalue()) == []
    assert Channel.objects.get().secret("app_secret") == SECRETS["app_secret"]


def test_a_stolen_database_without_the_key_opens_no_secret(facebook_page, settings):
    settings.CHANNEL_SECRETS_KEYS = [NEW_KEY]  # the thief's guess, or a server whose key was lost

    channel = Channel.objects.get()
    with pytest.raises(SecretsUnreadable) as unreadable:
        channel.secret("app_secret")

    message = str(unreadable.value)
    assert "kestrel-facebook" in message and "CHANNEL_SECRETS_KEYS" in message
    assert channel.encrypted_secrets not in message and revealed(message) == []


def test_a_tampered_ciphertext_is_refused_rather_than_trusted(facebook_page):
    token = facebook_page.encrypted_secrets
    middle = len(token) // 2
    Channel.objects.update(
        encrypted_secrets=token[:middle] + ("A" if token[middle] != "A" else "B") + token[middle + 1 :]
    )

    with pytest.raises(SecretsUnreadable):
        Channel.objects.get().secret("app_secret")


def test_code_that_still_writes_plaintext_secrets_fails_loudly_instead_of_storing_them(db):
    channel = make_channel()

    with pytest.raises(AttributeError):
        channel.secrets = {"app_secret": SECRETS["app_secret"]}
    with pytest.raises(AttributeError):
        Channel.objects.create(slug="other", name="Other", kind="x", network="x", secrets={"app_secret": "x"})
    with pytest.raises(AttributeError, match=r"secret\(name\)"):
        channel.secrets.get("app_secret")


@pytest.mark.parametrize(("name", "value"), [("app_secret", ""), ("", "value"), ("app_secret", 12345), (None, "x")])
def test_an_empty_or_non_text_secret_is_refused(db, name, value):
    channel = make_channel()

    with pytest.raises(ValueError, match="non-empty text"):
        channel.set_secret(name, value)
    assert channel.encrypted_secrets == ""


def test_setting_and_removing_secrets_changes_only_the_one_named(facebook_page):
    facebook_page.set_secret("app_secret", "rotated-at-meta")
    facebook_page.remove_secret("password")
    facebook_page.remove_secret("never-set")
    facebook_page.save()

    channel = Channel.objects.get()
    assert channel.secret_names() == ["app_secret", "page_access_token"]
    assert channel.secret("app_secret") == "rotated-at-meta"
    assert channel.secret("page_access_token") == SECRETS["page_access_token"]
    assert channel.secret("password") is None


def test_channel_repr_and_str_never_include_a_secret(facebook_page):
    channel = Channel.objects.get()
    channel.secret("app_secret")

    assert revealed(repr(channel) + str(channel)) == []


# Admin: write-only


@pytest.fixture
def admin_client(client, db):
    client.force_login(make_user("ada", role="admin"))
    return client


def change_url(channel: Channel) -> str:
    return f"/admin/inbox/channel/{channel.pk}/change/"


def test_admin_change_page_never_shows_a_secret(admin_client, facebook_page):
    page = admin_client.get(change_url(facebook_page))

    assert page.status_code == 200
    html = page.content.decode()
    assert revealed(html) == []
    assert facebook_page.encrypted_secrets not in html
    for name in SECRETS:
        assert f'name="replace_secret_{name}"' in html
    assert html.count("•••••••• set") == len(SECRETS)  # the three set ones, masked; the others "not set"
    assert 'autocomplete="new-password"' in html


def test_replacing_a_secret_in_admin_keeps_the_others_and_leaves_no_trace_of_its_value(admin_client, facebook_page):
    new_secret = "new-app-secret-Jd83kQ"

    response = admin_client.post(
        change_url(facebook_page), channel_admin_form(facebook_page, replace_secret_app_secret=new_secret), follow=True
    )

    assert response.status_code == 200 and new_secret not in response.content.decode()
    channel = Channel.objects.get()
    assert channel.secret("app_secret") == new_secret
    assert channel.secret("page_access_token") == SECRETS["page_access_token"]  # an empty box keeps it
    assert channel.secret("password") == SECRETS["password"]
    assert new_secret not in raw_channel_rows()
    entry = LogEntry.objects.get()
    assert "app_secret" in entry.get_change_message()
    assert new_secret not in entry.change_message and revealed(entry.change_message) == []
    history = admin_client.get(f"/admin/inbox/channel/{channel.pk}/history/").content.decode()
    assert "app_secret" in history and new_secret not in history


def test_an_admin_sets_the_secrets_of_a_new_channel_and_can_remove_one(admin_client, db):
    add = channel_admin_form(Channel(slug="kestrel-x", name="@Kestrel", kind="x", network="x"))

    admin_client.post("/admin/inbox/channel/add/", add | {"replace_secret_consumer_secret": "x-consumer-Qp4"})
    channel = Channel.objects.get()
    assert channel.secret_names() == ["consumer_secret"] and "x-consumer-Qp4" not in raw_channel_rows()

    admin_client.post(change_url(channel), channel_admin_form(channel, remove_secrets=["consumer_secret"]))
    assert Channel.objects.get().secret_names() == []


def test_a_refused_admin_form_does_not_echo_the_typed_secret_back(admin_client, facebook_page):
    typed = "typed-but-refused-Vb72"

    response = admin_client.post(
        change_url(facebook_page), channel_admin_form(facebook_page, slug="not a slug", replace_secret_password=typed)
    )

    assert response.status_code == 200 and "errornote" in response.content.decode()
    assert typed not in response.content.decode()
    assert Channel.objects.get().secret("password") == SECRETS["password"]


def test_replacing_and_removing_the_same_secret_at_once_is_refused(admin_client, facebook_page):
    response = admin_client.post(
        change_url(facebook_page),
        channel_admin_form(facebook_page, replace_secret_app_secret="other-Rt5", remove_secrets=["app_secret"]),
    )

    assert "Replace or remove a secret, not both: app_secret." in response.content.decode()
    assert Channel.objects.get().secret("app_secret") == SECRETS["app_secret"]


def test_an_admin_can_start_over_when_the_secrets_key_is_lost(admin_client, facebook_page, settings):
    settings.CHANNEL_SECRETS_KEYS = [NEW_KEY]
    url = change_url(facebook_page)

    page = admin_client.get(url).content.decode()
    assert "cannot be read" in page and facebook_page.encrypted_secrets not in page

    refused = admin_client.post(url, channel_admin_form(facebook_page, replace_secret_app_secret="fresh-Mn3"))
    assert "cannot be read, so a new one cannot be added" in refused.content.decode()
    assert Channel.objects.get().encrypted_secrets == facebook_page.encrypted_secrets

    admin_client.post(
        url, channel_admin_form(facebook_page, replace_secret_app_secret="fresh-Mn3", remove_secrets=["*"])
    )
    channel = Channel.objects.get()
    assert channel.secret_names() == ["app_secret"] and channel.secret("app_secret") == "fresh-Mn3"


# Error reports and logs


def reply_to_send(channel: Channel):
    message = make_conversation(channel=channel).messages.get()
    message.in_reply_to_external_id = "post-1"
    return message


def network_that_breaks(request: httpx.Request) -> httpx.Response:
    raise RuntimeError("the network library broke")  # not an httpx error: it escapes as a 500 would


@pytest.mark.parametrize("debug", [False, True], ids=["production", "debug-page"])
def test_error_report_does_not_include_secrets(facebook_page, rf, settings, debug):
    settings.DEBUG = debug
    typed_secret = f"typed-in-admin-{uuid.uuid4().hex}"  # made here, so the report's source lines cannot show it
    request = rf.post(change_url(facebook_page), {"name": "Kestrel", "replace_secret_app_secret": typed_secret})
    try:
        # The page access token sits in local variables (`token`) and in the Authorization header.
        senders.send(
            reply_to_send(facebook_page), client=httpx.Client(transport=httpx.MockTransport(network_that_breaks))
        )
    except RuntimeError:
        reporter = ExceptionReporter(request, *sys.exc_info())
    report = reporter.get_traceback_html() + reporter.get_traceback_text()

    assert "the network library broke" in report and "_post" in report  # the report is there, frames and all
    assert revealed(report) == [] and typed_secret not in report
    assert "replace_secret_app_secret" in report and "********************" in report


def test_error_mail_to_admins_does_not_include_a_secret_posted_in_admin(
    admin_client, facebook_page, settings, monkeypatch
):
    settings.ADMINS = [("Ops", "ops@example.com")]
    typed = "typed-before-a-crash-Lw09"

    def crash(self, *args, **kwargs):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(Channel, "save", crash)
    admin_client.raise_request_exception = False

    response = admin_client.post(
        change_url(facebook_page), channel_admin_form(facebook_page, replace_secret_password=typed)
    )

    assert response.status_code == 500
    [report] = mail.outbox
    assert "the database went away" in report.body and "replace_secret_password" in report.body
    assert typed not in report.body and revealed(report.body) == []


def test_logs_of_webhooks_and_replies_never_contain_a_secret(facebook_page, client, caplog):
    caplog.set_level("DEBUG")
    body = b'{"object": "page", "entry": []}'
    signature = "sha256=" + hmac.new(SECRETS["app_secret"].encode(), body, hashlib.sha256).hexdigest()
    for header in (signature, "sha256=forged"):
        client.post(
            "/webhooks/meta/kestrel-facebook",
            body,
            content_type="application/json",
            headers={"X-Hub-Signature-256": header},
        )
    refused = httpx.MockTransport(lambda request: httpx.Response(400, json={"error": {"message": "Invalid token"}}))
    with pytest.raises(senders.SendError):
        senders.send(reply_to_send(facebook_page), client=httpx.Client(transport=refused))

    assert "refused a delivery" in caplog.text
    assert revealed(caplog.text) == []


# Readers: a channel whose secrets cannot be read fails with a clear error and loses nothing


def test_a_webhook_for_a_channel_whose_key_is_lost_answers_503_so_the_platform_retries(
    facebook_page, client, settings, caplog
):
    settings.CHANNEL_SECRETS_KEYS = [NEW_KEY]

    response = client.post(
        "/webhooks/meta/kestrel-facebook",
        data=b"{}",
        content_type="application/json",
        headers={"X-Hub-Signature-256": "sha256=00"},
    )

    assert response.status_code == 503
    assert "secrets cannot be read" in response.json()["error"]
    assert "kestrel-facebook" in caplog.text and "CHANNEL_SECRETS_KEYS" in caplog.text
    assert facebook_page.encrypted_secrets not in caplog.text and revealed(caplog.text) == []


def test_a_reply_on_a_channel_whose_key_is_lost_fails_once_with_the_reason(facebook_page, settings):
    conversation = make_conversation(channel=facebook_page)
    message = conversation.messages.get()
    message.in_reply_to_external_id = "post-1"
    settings.CHANNEL_SECRETS_KEYS = [NEW_KEY]

    with pytest.raises(senders.SendError) as failure:
        senders.send(message)

    assert failure.value.retryable is False
    assert "kestrel-facebook" in str(failure.value) and revealed(str(failure.value)) == []


@pytest.mark.parametrize(
    ("kind", "secret"),
    [(Channel.Kind.FACEBOOK, "page_access_token"), (Channel.Kind.X, "user_access_token")],
)
def test_a_reply_on_a_channel_without_its_access_token_fails_once_naming_it_and_sends_nothing(db, kind, secret):
    channel = with_secrets(make_channel("kestrel-page", network=kind, kind=kind), app_secret="unrelated-Qz8")
    sent = []
    network = httpx.MockTransport(lambda request: sent.append(request) or httpx.Response(200, json={"id": "1"}))

    with pytest.raises(senders.SendError) as failure:
        senders.send(reply_to_send(channel), client=httpx.Client(transport=network))

    assert failure.value.retryable is False
    assert f"no '{secret}' secret" in failure.value.reason and "admin" in failure.value.reason
    assert sent == []


def test_a_mailbox_whose_key_is_lost_records_the_error_instead_of_crashing_the_poller(db, settings):
    from inbox.connectors.imap import poll_mailbox

    mailbox = with_secrets(make_channel("support-email", network="email", kind="email"), password=SECRETS["password"])
    mailbox.config = {"host": "imap.invalid", "username": "support"}
    mailbox.save()
    settings.CHANNEL_SECRETS_KEYS = [NEW_KEY]

    result = poll_mailbox(Channel.objects.get())

    assert result.status == "error" and "support-email" in result.error
    assert "CHANNEL_SECRETS_KEYS" in Channel.objects.get().last_poll_error


# The key and its rotation


def test_after_rotation_the_old_key_can_be_dropped_without_losing_a_secret(facebook_page, settings):
    mailbox = with_secrets(make_channel("support-email", network="email", kind="email"), password="imap-pw-Ge4")
    make_channel("no-secrets")
    settings.CHANNEL_SECRETS_KEYS = [NEW_KEY, KEY]  # step 1: the new key in front, the old one still there
    written_meanwhile = with_secrets(make_channel("kestrel-x"), consumer_secret="x-secret-Pa2")

    out = io.StringIO()
    call_command("rotate_channel_secrets", stdout=out)  # step 2
    settings.CHANNEL_SECRETS_KEYS = [NEW_KEY]  # step 3: the old key is gone
    call_command("rotate_channel_secrets", stdout=io.StringIO())  # the check: it would name any channel left behind

    assert "3 channel(s)" in out.getvalue()
    assert Channel.objects.get(pk=facebook_page.pk).secret("app_secret") == SECRETS["app_secret"]
    assert Channel.objects.get(pk=mailbox.pk).secret("password") == "imap-pw-Ge4"
    assert Channel.objects.get(pk=written_meanwhile.pk).secret("consumer_secret") == "x-secret-Pa2"
    assert Channel.objects.get(slug="no-secrets").encrypted_secrets == ""


def test_rotation_names_the_channels_no_key_opens_and_leaves_them_as_they_were(facebook_page, settings):
    lost = facebook_page.encrypted_secrets
    settings.CHANNEL_SECRETS_KEYS = [NEW_KEY]  # the key the page was written with is gone
    other = with_secrets(make_channel("kestrel-x"), consumer_secret="x-secret-Pa2")
    err = io.StringIO()

    with pytest.raises(CommandError, match=r"1 channel.* kestrel-facebook"):
        call_command("rotate_channel_secrets", stdout=io.StringIO(), stderr=err)

    assert "kestrel-facebook" in err.getvalue()
    assert lost not in err.getvalue() and revealed(err.getvalue()) == []
    assert Channel.objects.get(pk=facebook_page.pk).encrypted_secrets == lost
    assert Channel.objects.get(pk=other.pk).secret("consumer_secret") == "x-secret-Pa2"


def start_django(**environment: str) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "CHANNEL_SECRETS_KEYS"}}
    return subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env={**base, **environment},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    "value",
    ["not-a-fernet-key", "", f"{KEY},c2hvcnQ=", "ключ" * 11],
    ids=["malformed", "set-but-empty", "second-key-too-short", "not-ascii"],
)
def test_a_malformed_channel_secrets_key_stops_start_up_with_one_line_naming_it(value):
    result = start_django(CHANNEL_SECRETS_KEYS=value)

    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("socialcrm: configuration error: CHANNEL_SECRETS_KEYS")
    assert all(key not in lines[0] for key in value.split(",") if key), "the error repeats a key"


def test_several_keys_are_read_in_order_first_one_encrypts(monkeypatch, tmp_path):
    monkeypatch.setenv("CHANNEL_SECRETS_KEYS", f" {NEW_KEY} , {KEY} ")

    assert env.read_fernet_keys("CHANNEL_SECRETS_KEYS", key_file=tmp_path / "unused") == [NEW_KEY, KEY]
    assert list(tmp_path.iterdir()) == []


def test_without_channel_secrets_keys_one_is_generated_once_into_a_private_file(monkeypatch, tmp_path):
    monkeypatch.delenv("CHANNEL_SECRETS_KEYS", raising=False)
    key_file = tmp_path / ".channel_secrets_key"

    first = env.read_fernet_keys("CHANNEL_SECRETS_KEYS", key_file=key_file)
    second = env.read_fernet_keys("CHANNEL_SECRETS_KEYS", key_file=key_file)

    assert first == second and len(first) == 1
    Fernet(first[0])
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert list(tmp_path.iterdir()) == [key_file]


def test_a_damaged_key_file_stops_start_up_and_is_not_replaced(monkeypatch, tmp_path):
    monkeypatch.delenv("CHANNEL_SECRETS_KEYS", raising=False)
    key_file = tmp_path / ".channel_secrets_key"
    key_file.write_text("half a key")

    with pytest.raises(env.ConfigError, match=r"CHANNEL_SECRETS_KEYS is not set and .* holds a malformed key"):
        env.read_fernet_keys("CHANNEL_SECRETS_KEYS", key_file=key_file)
    assert key_file.read_text() == "half a key"


def test_the_channel_secrets_key_file_is_ignored_by_git():
    assert "/.channel_secrets_key" in (ROOT / ".gitignore").read_text().splitlines()


# The data migration

BEFORE = ("inbox", "0009_list_and_count_indexes")
ENCRYPTED = ("inbox", "0010_encrypt_channel_secrets")


def migrate_to(*targets):
    executor = MigrationExecutor(connection)
    executor.migrate(list(targets))
    return MigrationExecutor(connection).loader.project_state(list(targets)).apps


@pytest.mark.django_db(transaction=True)
def test_plaintext_secrets_already_in_the_database_are_encrypted_by_the_migration_and_back():
    leaves = MigrationExecutor(connection).loader.graph.leaf_nodes()
    old = migrate_to(BEFORE).get_model("inbox", "Channel")
    fields = {"kind": "facebook", "network": "facebook"}
    old.objects.create(slug="with-secrets", name="a", secrets={**SECRETS, "port": 993, "unset": ""}, **fields)
    old.objects.create(slug="without", name="b", secrets={}, **fields)
    old.objects.create(slug="not-a-dict", name="c", secrets=["legacy", SECRETS["app_secret"]], **fields)
    try:
        migrate_to(*leaves)

        assert revealed(raw_channel_rows()) == []
        channels = {channel.slug: channel for channel in Channel.objects.all()}
        assert {name: channels["with-secrets"].secret(name) for name in channels["with-secrets"].secret_names()} == {
            **SECRETS,
            "port": "993",
        }
        assert channels["without"].encrypted_secrets == "" and channels["without"].secret_names() == []
        assert json.loads(channels["not-a-dict"].secret("unparsed")) == ["legacy", SECRETS["app_secret"]]

        back = migrate_to(BEFORE).get_model("inbox", "Channel")
        assert back.objects.get(slug="with-secrets").secrets == {**SECRETS, "port": "993"}
        assert back.objects.get(slug="without").secrets == {}
    finally:
        migrate_to(*leaves)


@pytest.mark.django_db(transaction=True)
def test_migrating_back_without_the_key_stops_and_names_the_channel(settings):
    leaves = MigrationExecutor(connection).loader.graph.leaf_nodes()
    with_secrets(make_channel("kestrel-x"), consumer_secret="x-consumer-secret")
    settings.CHANNEL_SECRETS_KEYS = [NEW_KEY]
    try:
        with pytest.raises(RuntimeError, match=r"Channel 'kestrel-x'.*CHANNEL_SECRETS_KEYS"):
            migrate_to(BEFORE)
    finally:
        settings.CHANNEL_SECRETS_KEYS = [KEY]
        migrate_to(*leaves)
    assert Channel.objects.get().secret("consumer_secret") == "x-consumer-secret"
