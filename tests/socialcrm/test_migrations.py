import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command

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
