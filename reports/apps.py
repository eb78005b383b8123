from django.apps import AppConfig


class ReportsConfig(AppConfig):
    name = "reports"

    def ready(self):
        from django.db.models.signals import post_delete

        from inbox.live import conversations_changed
        from inbox.models import Conversation
        from inbox.openapi import OPENAPI
        from reports.api import describe

        describe(OPENAPI)

        conversations_changed.connect(_refresh_rollups, dispatch_uid="reports-refresh-rollups")
        post_delete.connect(_conversation_deleted, sender=Conversation, dispatch_uid="reports-conversation-deleted")


def _refresh_rollups(sender, *, conversation_ids, **kwargs):
    """Conversations changed (and committed): their part in the report rollups follows, in a task."""
    from reports.tasks import refresh_rollups

    refresh_rollups.delay(sorted(conversation_ids))


def _conversation_deleted(sender, *, instance, **kwargs):
    """A deleted conversation (admin) counts no more once its deletion commits."""
    from django.db import transaction

    from reports.tasks import refresh_rollups

    pk = instance.pk
    transaction.on_commit(lambda: refresh_rollups.delay([pk]), robust=True)
