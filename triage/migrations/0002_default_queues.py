from django.db import migrations

# slug, name, description, (first reply minutes, resolution minutes)
DEFAULT_QUEUES = [
    ("service", "Service", "Questions and complaints about products, orders and accounts", (60, 24 * 60)),
    ("pr", "PR", "Press, public criticism and influential voices", (15, 4 * 60)),
    ("marketing", "Marketing", "Praise, campaign chatter and community", (8 * 60, 3 * 24 * 60)),
    ("sales", "Sales", "Purchase intent, pricing and upgrade questions", (30, 8 * 60)),
    ("product", "Product", "Feature requests, ideas and product feedback", (24 * 60, 14 * 24 * 60)),
]


def create_default_queues(apps, schema_editor):
    Queue = apps.get_model("triage", "Queue")
    SlaPolicy = apps.get_model("triage", "SlaPolicy")
    for position, (slug, name, description, (first_response, resolution)) in enumerate(DEFAULT_QUEUES):
        policy, _ = SlaPolicy.objects.get_or_create(
            name=f"{name} standard",
            defaults={"first_response_minutes": first_response, "resolution_minutes": resolution},
        )
        Queue.objects.get_or_create(
            slug=slug,
            defaults={"name": name, "description": description, "position": position, "sla_policy": policy},
        )


class Migration(migrations.Migration):
    dependencies = [("triage", "0001_initial")]

    operations = [migrations.RunPython(create_default_queues, migrations.RunPython.noop)]
