"""Channel secrets move from a plaintext JSON column to one Fernet token (settings.CHANNEL_SECRETS_KEYS).

Each channel's dict is kept whole: text values as they are, other non-empty values as their JSON
text, and a column that was not a dict at all (which no connector could read) under the name
"unparsed", so nothing is lost and the admin can remove it. Reversing decrypts them back into the
JSON column; it stops, naming the channel, if a channel's secrets do not decrypt with the keys.
"""

import json

from django.db import migrations, models

from socialcrm import encryption


def as_secret_dict(value) -> dict[str, str]:
    if not isinstance(value, dict):
        return {"unparsed": json.dumps(value)} if value not in (None, "", [], {}) else {}
    return {
        str(name): secret if isinstance(secret, str) else json.dumps(secret)
        for name, secret in value.items()
        if secret not in (None, "")
    }


def encrypt_secrets(apps, schema_editor):
    Channel = apps.get_model("inbox", "Channel")
    for channel in Channel.objects.only("pk", "secrets"):
        values = as_secret_dict(channel.secrets)
        channel.encrypted_secrets = encryption.encrypt(json.dumps(values, sort_keys=True).encode()) if values else ""
        channel.save(update_fields=["encrypted_secrets"])


def decrypt_secrets(apps, schema_editor):
    Channel = apps.get_model("inbox", "Channel")
    for channel in Channel.objects.exclude(encrypted_secrets="").only("pk", "slug", "encrypted_secrets"):
        try:
            channel.secrets = json.loads(encryption.decrypt(channel.encrypted_secrets))
        except encryption.InvalidToken:
            raise RuntimeError(
                f"Channel '{channel.slug}': its secrets cannot be decrypted with any key in CHANNEL_SECRETS_KEYS; "
                "restore the key they were written with before migrating back."
            ) from None
        channel.save(update_fields=["secrets"])


class Migration(migrations.Migration):
    dependencies = [("inbox", "0011_reply_idempotency")]

    operations = [
        migrations.AddField(
            model_name="channel",
            name="encrypted_secrets",
            field=models.TextField(
                blank=True,
                default="",
                editable=False,
                help_text="The connector's secrets (a JSON object of name to text) as one Fernet token; empty when none.",
            ),
            preserve_default=False,
        ),
        migrations.RunPython(encrypt_secrets, decrypt_secrets, elidable=False),
        migrations.RemoveField(model_name="channel", name="secrets"),
    ]
