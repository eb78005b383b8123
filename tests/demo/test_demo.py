import pytest
from django.contrib.auth import get_user_model
from django.db.models import Count

from customers.models import Customer
from demo.data import load_demo
from inbox.models import Conversation, Message


@pytest.mark.django_db
def test_the_demo_fills_every_queue_and_status_and_loading_it_twice_adds_nothing():
    first = load_demo()
    counts = (Customer.objects.count(), Conversation.objects.count(), Message.objects.count())
    second = load_demo()

    assert first.created and not second.created
    assert counts == (Customer.objects.count(), Conversation.objects.count(), Message.objects.count())
    assert counts[0] == 200 and counts[2] >= 1000
    pairs = set(Conversation.objects.values_list("queue__slug", "status"))
    for queue in ("service", "pr", "marketing", "sales", "product"):
        assert {status for q, status in pairs if q == queue} >= {"new", "resolved"}
    assert {status for _, status in pairs} == {"new", "open", "pending", "snoozed", "resolved"}
    multi = Customer.objects.annotate(n=Count("identities__network", distinct=True)).filter(n__gt=1).count()
    assert multi >= 50
    users = get_user_model().objects
    assert {"agent", "manager", "admin"} <= set(users.values_list("username", flat=True))
    assert users.get(username="agent").check_password("agent")


@pytest.mark.django_db
def test_the_demo_ships_what_managers_set_up_and_a_macro_that_works(client):
    from inbox.models import CannedReply, Label, Macro
    from inbox.services.macros import apply_macro

    load_demo()

    assert {"thanks", "dm", "outage", "refund"} <= set(CannedReply.objects.values_list("shortcut", flat=True))
    assert {"outage", "refund", "vip"} <= set(Label.objects.values_list("name", flat=True))
    refund = Macro.objects.get(name="Refund on its way")
    assert refund.steps() == ["reply", "label billing, refund", "mark pending (waiting on customer)"]
    waiting = Conversation.objects.filter(queue__slug="service", status="new").first()
    agent = get_user_model().objects.get(username="agent")

    done = apply_macro(conversation=waiting, macro=refund, by=agent)

    assert done.status == "pending" and {"refund", "billing"} <= set(done.labels.values_list("name", flat=True))
    assert done.messages.filter(direction="out").latest("posted_at").text.startswith(f"Hi {done.customer.first_name},")
