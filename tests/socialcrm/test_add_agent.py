import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError

User = get_user_model()


def add_agent(*args):
    call_command("add_agent", *args)


def memberships(username):
    return sorted(User.objects.get(username=username).queues.values_list("slug", flat=True))


@pytest.mark.django_db
def test_add_agent_creates_a_user_with_role_and_queues():
    add_agent("jo", "--password", "a-Long-passw0rd", "--role", "agent", "--queues", "service,sales")

    jo = User.objects.get(username="jo")
    assert jo.check_password("a-Long-passw0rd")
    assert list(jo.groups.values_list("name", flat=True)) == ["agent"]
    assert memberships("jo") == ["sales", "service"]
    assert not jo.is_staff


@pytest.mark.django_db
def test_add_agent_again_updates_the_same_user():
    add_agent("jo", "--password", "a-Long-passw0rd", "--role", "agent", "--queues", "service")
    add_agent("jo", "--password", "a-Long-passw0rd", "--role", "agent", "--queues", "service")
    add_agent("jo", "--role", "admin", "--queues", "pr")

    assert User.objects.filter(username="jo").count() == 1
    jo = User.objects.get(username="jo")
    assert list(jo.groups.values_list("name", flat=True)) == ["admin"]
    assert jo.is_staff  # admins work in Django admin
    assert jo.check_password("a-Long-passw0rd")  # no --password keeps the old one
    assert memberships("jo") == ["pr"]


@pytest.mark.django_db
def test_an_unknown_queue_fails_and_changes_nothing():
    add_agent("jo", "--password", "a-Long-passw0rd", "--role", "agent", "--queues", "service")

    with pytest.raises(CommandError, match=r"Unknown queue.*billing.*Known queues: service"):
        add_agent("jo", "--role", "manager", "--queues", "service,billing")
    with pytest.raises(CommandError, match="Unknown queue"):
        add_agent("newbie", "--password", "a-Long-passw0rd", "--queues", "billing")

    assert memberships("jo") == ["service"]
    assert list(User.objects.get(username="jo").groups.values_list("name", flat=True)) == ["agent"]
    assert not User.objects.filter(username="newbie").exists()


@pytest.mark.django_db
def test_an_unknown_role_fails_and_changes_nothing():
    with pytest.raises(CommandError, match="invalid choice: 'boss'"):
        add_agent("jo", "--password", "a-Long-passw0rd", "--role", "boss")
    assert not User.objects.filter(username="jo").exists()


@pytest.mark.django_db
def test_a_weak_password_is_refused():
    with pytest.raises(CommandError, match="Password refused"):
        add_agent("jo", "--password", "password")
    assert not User.objects.filter(username="jo").exists()


@pytest.mark.django_db
def test_a_new_user_needs_a_password():
    with pytest.raises(CommandError, match="needs --password"):
        add_agent("jo", "--role", "agent")
