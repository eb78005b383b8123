from django.apps import AppConfig
from django.conf import settings
from django.db.models.signals import post_delete, post_migrate, post_save


class TriageConfig(AppConfig):
    name = "triage"

    def ready(self) -> None:
        from triage.models import Queue, RoutingRule, TriageSettings

        # Rules are compiled once per change: any change to what they read tells every process to recompile.
        for model in (RoutingRule, Queue, TriageSettings):
            post_save.connect(_config_changed, sender=model, dispatch_uid=f"triage-config-{model.__name__}-save")
            post_delete.connect(_config_changed, sender=model, dispatch_uid=f"triage-config-{model.__name__}-delete")
        # A rule may name an agent; deleting one nulls the rule's assignee without a save signal.
        post_delete.connect(_config_changed, sender=settings.AUTH_USER_MODEL, dispatch_uid="triage-config-user-delete")
        post_migrate.connect(_seed_models, sender=self)


def _config_changed(sender, **kwargs) -> None:
    from triage.routing import config_changed

    config_changed()


def _seed_models(sender, **kwargs) -> None:
    # Useful on day one: every task gets a model trained on the seed set right after migrate.
    from triage.learning import ensure_seed_versions

    ensure_seed_versions()
