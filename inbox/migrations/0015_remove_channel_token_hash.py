"""The channel's own token hash is gone: its ApiToken holds it (0014 moved it there)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("inbox", "0014_api_token")]

    operations = [migrations.RemoveField(model_name="channel", name="token_hash")]
