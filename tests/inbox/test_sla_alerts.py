"""Due soon, breach and escalation: each an audited Event, told live to the people concerned and nobody else."""

from datetime import timedelta

import pytest
from django.core.cache import cache

from inbox import live
from inbox.models import Conversation, Event
from inbox.services.conversations import assign_conversation, refresh_sla
from inbox.services.deadlines import check_deadlines
from tests.factories import make_conversation, make_user
from triage.models import Queue, SlaEscalation

pytestmark = pytest.mark.django_db


@pytest.fixture
def people():
    return {
        "sam": make_user("sam", role="agent", queues=("service",)),
        "ann": make_user("ann", role="agent", queues=("service",)),
        "pat": make_user("pat", role="agent", queues=("sales",)),
        "maria": make_user("maria", role="manager", queues=("service",)),
        "mo": make_user("mo", role="manager"),
        "root": make_user("root", role="admin"),
    }


def started(**fields) -> Conversation:
    conversation = make_conversation("service", **fields)
    conversation.awaiting_since = conversation.created_at
    refresh_sla(conversation)
    conversation.save()
    return conversation


def told(pushes, people) -> set[str]:
    """Who got an SLA notification."""
    return {name for name, user in people.items() if any(p.kind == "sla" for p in pushes.to(live.user_group(user.pk)))}


def test_due_soon_then_breach_go_to_the_assignee_only(people, capture_pushes):
    conversation = started()
    assign_conversation(conversation=conversation, agent=people["sam"], by=people["maria"])
    conversation.refresh_from_db()
    due = conversation.sla_due_at

    assert check_deadlines(now=due - timedelta(minutes=16)) == 0
    with capture_pushes() as pushes:
        assert check_deadlines(now=due - timedelta(minutes=14)) == 1
    assert told(pushes, people) == {"sam"}
    warned = Event.objects.get(kind=Event.Kind.SLA_DUE_SOON)
    assert warned.data["clock"] == "first_response" and warned.data["notified"] == ["sam"]

    assert check_deadlines(now=due - timedelta(minutes=1)) == 0  # warned once
    with capture_pushes() as pushes:
        assert check_deadlines(now=due + timedelta(seconds=1)) == 1
    assert told(pushes, people) == {"sam"}
    assert Event.objects.filter(kind=Event.Kind.SLA_BREACHED, conversation=conversation).count() == 1
    conversation.refresh_from_db()
    assert conversation.sla_alert_at is None  # no escalation levels: nothing more to do
    assert check_deadlines(now=due + timedelta(hours=5)) == 0


def test_an_unassigned_breach_goes_to_the_queues_agents_not_other_queues_nor_every_admin(people, capture_pushes):
    conversation = started()
    with capture_pushes() as pushes:
        check_deadlines(now=conversation.sla_due_at + timedelta(seconds=1))
    assert told(pushes, people) == {"sam", "ann", "maria"}  # the service queue's members
    # The warning the breach overtook (the checker was away) is not made late.
    assert list(Event.objects.values_list("kind", flat=True)) == [Event.Kind.SLA_BREACHED]


def test_escalation_levels_tell_the_managers_then_take_it_back_to_the_queue(people, capture_pushes):
    policy = Queue.objects.get(slug="service").sla_policy
    SlaEscalation.objects.create(policy=policy, after_minutes=10, action="notify_managers")
    SlaEscalation.objects.create(policy=policy, after_minutes=30, action="reassign_to_queue")
    conversation = started()
    assign_conversation(conversation=conversation, agent=people["sam"], by=people["maria"])
    conversation.refresh_from_db()
    due = conversation.sla_due_at
    check_deadlines(now=due + timedelta(seconds=1))

    with capture_pushes() as pushes:
        assert check_deadlines(now=due + timedelta(minutes=11)) == 1
    assert told(pushes, people) == {"maria"}  # the manager who works the queue; not mo, not root

    with capture_pushes() as pushes:
        assert check_deadlines(now=due + timedelta(minutes=31)) == 1
    assert told(pushes, people) == {"sam", "ann", "maria"}
    conversation.refresh_from_db()
    assert conversation.assignee is None
    levels = list(Event.objects.filter(kind=Event.Kind.SLA_ESCALATED).order_by("id").values_list("data", flat=True))
    assert [(level["action"], level["level"]) for level in levels] == [("notify_managers", 2), ("reassign_to_queue", 3)]
    assert Event.objects.filter(kind=Event.Kind.ASSIGNED, data__via="sla escalation").count() == 1


def test_managers_of_a_queue_nobody_manages_are_the_managers_not_the_admins(people, capture_pushes):
    policy = Queue.objects.get(slug="service").sla_policy
    SlaEscalation.objects.create(policy=policy, after_minutes=0, action="notify_managers")
    people["maria"].queues.clear()
    conversation = started()
    with capture_pushes() as pushes:
        check_deadlines(now=conversation.sla_due_at + timedelta(seconds=1))
    assert told(pushes, people) == {"sam", "ann", "maria", "mo"}  # breach: the queue; level 2: the managers
    assert "root" not in told(pushes, people)


def test_an_answer_before_the_deadline_means_no_breach(people):
    from inbox.services.replies import reply

    conversation = started()
    due = conversation.sla_due_at
    reply(conversation=conversation, text="Looking into it now.", private=False, by=people["sam"])
    assert check_deadlines(now=due + timedelta(seconds=1)) == 0
    assert not Event.objects.filter(kind=Event.Kind.SLA_BREACHED).exists()


def test_a_policy_change_in_admin_recomputes_open_due_times_in_a_task_with_progress(
    people, admin_client, django_capture_on_commit_callbacks
):
    conversation = started()
    policy = Queue.objects.get(slug="service").sla_policy
    form = {
        "name": policy.name,
        "first_response_minutes": 20,
        "next_response_minutes": 20,
        "resolution_minutes": policy.resolution_minutes,
        "due_soon_minutes": 5,
        **{f"{prefix}-{key}": value for prefix in ("narrowings", "escalations") for key, value in _empty().items()},
    }
    form.update(_narrowing_rows(policy))
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(f"/admin/triage/slapolicy/{policy.pk}/change/", form, follow=True)
    assert response.status_code == 200 and "being computed again" in response.content.decode()
    conversation.refresh_from_db()
    assert conversation.first_response_due_at == conversation.created_at + timedelta(minutes=20)
    assert conversation.sla_alert_at == conversation.sla_due_at - timedelta(minutes=5)
    progress = cache.get(f"sla-recompute:slapolicy:{policy.pk}")
    assert progress["done"] == progress["total"] >= 1


def test_admin_refuses_two_narrowings_for_the_same_case(admin_client):
    policy = Queue.objects.get(slug="service").sla_policy
    form = {
        "name": policy.name,
        "first_response_minutes": 60,
        "resolution_minutes": 600,
        "due_soon_minutes": 15,
        **{f"escalations-{key}": value for key, value in _empty().items()},
        "narrowings-TOTAL_FORMS": "2",
        "narrowings-INITIAL_FORMS": "0",
        **{
            f"narrowings-{i}-{k}": v
            for i in (0, 1)
            for k, v in {"tier": "vip", "first_response_minutes": "5", "resolution_minutes": "50"}.items()
        },
    }
    response = admin_client.post(f"/admin/triage/slapolicy/{policy.pk}/change/", form)
    assert response.status_code == 200
    assert "Two rows give targets for the same case (VIP)" in response.content.decode()
    assert policy.narrowings.filter(tier="vip").count() == 0


VIP_ROW = {"tier": "vip", "first_response_minutes": "5", "resolution_minutes": "50"}


def _empty() -> dict:
    return {"TOTAL_FORMS": "0", "INITIAL_FORMS": "0", "MIN_NUM_FORMS": "0", "MAX_NUM_FORMS": "1000"}


def _narrowing_rows(policy) -> dict:
    """The policy's narrowings as its change form holds them, unchanged."""
    rows = list(policy.narrowings.all())
    form = {"narrowings-TOTAL_FORMS": str(len(rows)), "narrowings-INITIAL_FORMS": str(len(rows))}
    for i, row in enumerate(rows):
        form |= {
            f"narrowings-{i}-id": row.pk,
            f"narrowings-{i}-policy": policy.pk,
            f"narrowings-{i}-priority": row.priority if row.priority is not None else "",
            f"narrowings-{i}-tier": row.tier,
            f"narrowings-{i}-first_response_minutes": row.first_response_minutes,
            f"narrowings-{i}-next_response_minutes": row.next_response_minutes or "",
            f"narrowings-{i}-resolution_minutes": row.resolution_minutes,
        }
    return form
