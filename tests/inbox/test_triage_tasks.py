"""Nothing is left untriaged: the triage task is idempotent and a sweep re-enqueues lost work."""

from datetime import timedelta

import pytest
from django.db import OperationalError, connection
from django.utils import timezone

from inbox.models import Message
from inbox.tasks import sweep_lost_messages, triage_messages
from tests.factories import make_conversation
from triage.models import TriageDecision


@pytest.mark.django_db
def test_the_task_triages_queued_messages_once():
    message = make_conversation().messages.get()

    assert triage_messages([message.pk]) == 1
    first = Message.objects.get(pk=message.pk)
    decision = TriageDecision.objects.get(message=message)
    assert triage_messages([message.pk]) == 0  # run again: nothing changes
    again = Message.objects.get(pk=message.pk)
    assert first.triage_state == again.triage_state == Message.TriageState.TRIAGED
    assert first.processed_at == again.processed_at is not None
    assert TriageDecision.objects.get(message=message).decided_at == decision.decided_at


@pytest.mark.django_db
def test_the_sweep_re_enqueues_messages_whose_task_was_lost():
    lost = make_conversation().messages.get()
    fresh = make_conversation().messages.get()
    Message.objects.filter(pk=lost.pk).update(received_at=timezone.now() - timedelta(minutes=5))

    assert sweep_lost_messages() == 1  # only the lost one is re-enqueued (tasks run in-process in tests)

    assert Message.objects.get(pk=lost.pk).triage_state == Message.TriageState.TRIAGED
    # The task took the fresh one along in its batch; its own task will find nothing left to do.
    assert Message.objects.get(pk=fresh.pk).triage_state == Message.TriageState.TRIAGED
    assert triage_messages([fresh.pk]) == 0


@pytest.mark.django_db
def test_a_task_takes_up_other_waiting_messages_oldest_first_up_to_its_limit():
    from inbox.services import triage

    named, *others = [make_conversation().messages.get() for _ in range(4)]

    assert triage.triage_messages(message_ids=[named.pk], take_up_to=3) == 3
    states = dict(Message.objects.values_list("pk", "triage_state"))
    assert states[named.pk] == states[others[0].pk] == states[others[1].pk] == Message.TriageState.TRIAGED
    assert states[others[2].pk] == Message.TriageState.QUEUED


@pytest.mark.django_db
def test_a_task_that_loses_the_database_is_tried_again_and_triages_its_messages():
    message = make_conversation().messages.get()
    failures = []

    def database_restarting(execute, sql, params, many, context):
        if not failures:
            failures.append(sql)
            raise OperationalError("server closed the connection unexpectedly")
        return execute(sql, params, many, context)

    # In-process, as a worker runs it: a failure is caught and the retry runs at once (no countdown).
    with connection.execute_wrapper(database_restarting):
        assert triage_messages.apply(args=[[message.pk]], throw=False).get() == 1

    assert failures  # the first attempt did fail
    assert Message.objects.get(pk=message.pk).triage_state == Message.TriageState.TRIAGED
    assert TriageDecision.objects.filter(message=message).count() == 1
