"""Nothing is left untriaged: the triage task is idempotent and a sweep re-enqueues lost work."""

from datetime import timedelta

import pytest
from django.utils import timezone

from inbox.models import Message
from tests.factories import make_conversation
from triage.models import TriageDecision
from triage.tasks import sweep_lost_messages, triage_messages


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

    assert sweep_lost_messages() == 1  # tasks run in-process in tests

    assert Message.objects.get(pk=lost.pk).triage_state == Message.TriageState.TRIAGED
    assert Message.objects.get(pk=fresh.pk).triage_state == Message.TriageState.QUEUED  # its task may still come
