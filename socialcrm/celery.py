"""The Celery application; its configuration is the CELERY_* settings."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "socialcrm.settings")

# DjangoTask adds delay_on_commit: enqueue only once the transaction that made the work commits.
app = Celery("socialcrm", task_cls="celery.contrib.django.task:DjangoTask")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
