"""What the pollers kept in a channel's `config` moves to columns of its own, so `config` is only the admin's.

The feed poller kept `etag`, `last_modified`, `last_polled_at` and `last_error` in `config`, the mailbox
poller `uidvalidity` and `last_uid`; each poll wrote the whole `config` back, losing an admin's edit made
while it ran. Forward, each key moves to its column and leaves `config`; a value the pollers could not
have written (a time that does not parse, a UID that is not a number) starts that cursor over, which
at worst polls once more and finds its items duplicates. Reversing puts the values back under their keys.
"""

from datetime import UTC, datetime

from django.db import migrations, models

# config key -> column
MOVED = {
    "last_polled_at": "last_polled_at",
    "last_error": "last_poll_error",
    "etag": "feed_etag",
    "last_modified": "feed_last_modified",
    "uidvalidity": "mailbox_uidvalidity",
    "last_uid": "mailbox_last_uid",
}


def _moment(value):
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _number(value) -> int:
    try:
        number = int(value or 0)
    except (TypeError, ValueError):
        return 0
    return number if 0 <= number < 2**63 else 0


def _column_value(column: str, value):
    if column == "last_polled_at":
        return _moment(value) if value else None
    if column.startswith("mailbox_"):
        return _number(value)
    return "" if value is None else str(value)


def config_to_columns(apps, schema_editor):
    Channel = apps.get_model("inbox", "Channel")
    for channel in Channel.objects.only("pk", "config"):
        config = channel.config
        if not isinstance(config, dict) or not set(config) & set(MOVED):
            continue
        for key, column in MOVED.items():
            if key in config:
                setattr(channel, column, _column_value(column, config.pop(key)))
        channel.save(update_fields=["config", *MOVED.values()])


def columns_to_config(apps, schema_editor):
    Channel = apps.get_model("inbox", "Channel")
    for channel in Channel.objects.all():
        state = {key: getattr(channel, column) for key, column in MOVED.items()}
        if state["last_polled_at"] is not None:
            state["last_polled_at"] = state["last_polled_at"].isoformat()
        state = {key: value for key, value in state.items() if value not in (None, "", 0)}
        if not state:
            continue
        channel.config = (channel.config if isinstance(channel.config, dict) else {}) | state
        channel.save(update_fields=["config"])


class Migration(migrations.Migration):
    dependencies = [("inbox", "0012_encrypt_channel_secrets")]

    operations = [
        migrations.AddField(
            model_name="channel",
            name="feed_etag",
            field=models.TextField(
                blank=True, editable=False, help_text="The feed's last ETag, sent back as If-None-Match."
            ),
        ),
        migrations.AddField(
            model_name="channel",
            name="feed_last_modified",
            field=models.TextField(
                blank=True,
                editable=False,
                help_text="The feed's last Last-Modified, sent back as If-Modified-Since.",
            ),
        ),
        migrations.AddField(
            model_name="channel",
            name="last_poll_error",
            field=models.TextField(
                blank=True, editable=False, help_text="Why the last poll failed; empty when it succeeded."
            ),
        ),
        migrations.AddField(
            model_name="channel",
            name="last_polled_at",
            field=models.DateTimeField(
                blank=True, editable=False, help_text="When the feed or mailbox was last polled.", null=True
            ),
        ),
        migrations.AddField(
            model_name="channel",
            name="mailbox_last_uid",
            field=models.PositiveBigIntegerField(
                default=0, editable=False, help_text="The highest UID of the mailbox already stored."
            ),
        ),
        migrations.AddField(
            model_name="channel",
            name="mailbox_uidvalidity",
            field=models.PositiveBigIntegerField(
                default=0, editable=False, help_text="The mailbox's UIDVALIDITY when its last UID was seen."
            ),
        ),
        migrations.AlterField(
            model_name="channel",
            name="config",
            field=models.JSONField(
                blank=True,
                default=dict,
                help_text="Connector settings (feed URL, mailbox, page id, poll_seconds). Secrets go below.",
            ),
        ),
        migrations.RunPython(config_to_columns, columns_to_config, elidable=False),
    ]
