"""A channel's ingest token becomes an ApiToken of the ingest scope, so there is one token system.

Forward, each channel's stored hash moves unchanged into a new ApiToken (the same SHA-256 of the same
secret, so every token in use goes on working) and the channel points at it. Reversing copies the hash
of each channel's token back and deletes the ingest tokens. The next migration drops the old column
(apart, so PostgreSQL does not alter a table with row updates pending in the same transaction).
"""

import django.db.models.deletion
from django.db import migrations, models


def move_hashes_to_tokens(apps, schema_editor):
    Channel = apps.get_model("inbox", "Channel")
    ApiToken = apps.get_model("socialcrm", "ApiToken")
    for channel in Channel.objects.exclude(token_hash=""):
        channel.api_token = ApiToken.objects.create(
            name=f"Channel {channel.slug}"[:100], scope="ingest", token_hash=channel.token_hash
        )
        channel.save(update_fields=["api_token"])


def move_tokens_to_hashes(apps, schema_editor):
    Channel = apps.get_model("inbox", "Channel")
    ApiToken = apps.get_model("socialcrm", "ApiToken")
    for channel in Channel.objects.filter(api_token__isnull=False).select_related("api_token"):
        channel.token_hash = channel.api_token.token_hash if channel.api_token.is_active else ""
        channel.save(update_fields=["token_hash"])
    ApiToken.objects.filter(scope="ingest").delete()


class Migration(migrations.Migration):
    dependencies = [
        ("inbox", "0013_channel_poll_state"),
        ("socialcrm", "0003_ingest_scope"),
    ]

    operations = [
        migrations.AddField(
            model_name="channel",
            name="api_token",
            field=models.OneToOneField(
                blank=True,
                editable=False,
                help_text="The bearer token of its ingest API (issued by add_channel; revoked under API tokens).",
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="channel",
                to="socialcrm.apitoken",
            ),
        ),
        migrations.RunPython(move_hashes_to_tokens, move_tokens_to_hashes),
    ]
