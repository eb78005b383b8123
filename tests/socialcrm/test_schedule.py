"""Beat's schedule run without beat (the embedded default): each task when its time comes, once."""

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from socialcrm.celery import app
from socialcrm.schedule import Schedule


def test_each_scheduled_task_runs_when_due_and_a_failing_one_does_not_stop_the_rest(monkeypatch):
    ran = []

    def fake_apply(name):
        def apply(kwargs=None):
            ran.append(name)
            if name == "inbox.tasks.sweep_lost_messages":
                raise RuntimeError("the database went away")

        return apply

    for entry in settings.CELERY_BEAT_SCHEDULE.values():
        monkeypatch.setattr(app.tasks[entry["task"]], "apply", fake_apply(entry["task"]))
    schedule = Schedule()

    schedule.run_due()
    assert ran == []  # nothing is due the moment it starts

    schedule.last_run = dict.fromkeys(schedule.last_run, timezone.now() - timedelta(seconds=61))
    schedule.run_due()
    every_minute_or_less = [
        entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values() if isinstance(entry["schedule"], float)
    ]
    assert sorted(ran) == sorted(every_minute_or_less)  # the nightly retraining waits for its hour
    assert "inbox.tasks.check_sla_deadlines" in ran

    ran.clear()
    schedule.run_due()
    assert ran == []  # once per interval
