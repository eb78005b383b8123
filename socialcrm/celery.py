"""The Celery application; its configuration is the CELERY_* settings."""

import functools
import logging
import os

from celery import Celery
from celery.contrib.django.task import DjangoTask
from celery.exceptions import Retry
from django.db import transaction
from kombu.exceptions import OperationalError

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "socialcrm.settings")

logger = logging.getLogger(__name__)


class Task(DjangoTask):
    """DjangoTask, whose delay_on_commit never fails the request whose data already committed.

    With the broker unreachable, the task is logged and left to the sweeps that look for work whose
    task never ran (inbox.tasks.sweep_lost_messages for mentions, the reply sweep for replies): the
    data is stored, so the platform that delivered it is told so rather than sent a 500 it would retry.
    """

    def apply(self, args=None, kwargs=None, *, retries=0, **options):
        """Run in-process (eager tasks, make run); a retry runs again at once, as Celery's apply does
        when eager exceptions do not propagate. With CELERY_TASK_EAGER_PROPAGATES, Celery raises the
        Retry instead, which would end the request that enqueued a reply the network refused for now.
        """
        try:
            return super().apply(args, kwargs, retries=retries, **options)
        except Retry as retry:
            if retry.sig is None:
                raise
            return retry.sig.apply(retries=retries + 1)

    def delay_on_commit(self, *args, **kwargs) -> None:
        transaction.on_commit(functools.partial(self._delay_or_leave_to_the_sweep, args, kwargs))

    def _delay_or_leave_to_the_sweep(self, args, kwargs) -> None:
        try:
            self.delay(*args, **kwargs)
        except (OperationalError, OSError):
            logger.warning("could not enqueue %s after commit (broker unreachable); a sweep will take it up", self.name)


app = Celery("socialcrm", task_cls="socialcrm.celery:Task")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
