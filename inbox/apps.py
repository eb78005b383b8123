from django.apps import AppConfig


class InboxConfig(AppConfig):
    name = "inbox"

    def ready(self):
        from inbox import live
        from triage.models import sla_rules_changed

        live.connect_signals()
        sla_rules_changed.connect(_recompute_deadlines, dispatch_uid="inbox-recompute-deadlines")


def _recompute_deadlines(sender, *, queue_ids, progress_key, **kwargs):
    """A policy or calendar changed: its queues' open conversations get their due times again, in a task."""
    from inbox.tasks import recompute_sla_deadlines

    recompute_sla_deadlines.delay_on_commit(list(queue_ids), progress_key)
