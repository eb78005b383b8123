# urgent_factor became a narrowing for urgent conversations (0007); a migration of its own, as PostgreSQL
# alters no table with the rows just inserted still to be checked.

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("triage", "0007_sla_targets_and_escalations"),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name="slapolicy",
            name="sla_urgent_factor_range",
        ),
        migrations.RemoveField(
            model_name="slapolicy",
            name="urgent_factor",
        ),
    ]
