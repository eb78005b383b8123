from django.db import migrations


def mark_history_untriaged(apps, schema_editor):
    # Messages stored before triage existed were only marked "waiting". Triaging them now would
    # re-route conversations people already handled, so they are recorded as never triaged.
    Message = apps.get_model("inbox", "Message")
    Message.objects.filter(triage_state="waiting").update(triage_state="skipped")


class Migration(migrations.Migration):
    dependencies = [("triage", "0004_default_rules"), ("inbox", "0006_event_kinds")]

    operations = [migrations.RunPython(mark_history_untriaged, migrations.RunPython.noop)]
