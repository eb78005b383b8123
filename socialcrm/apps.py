from django.apps import AppConfig
from django.db.models.signals import post_migrate


class SocialcrmConfig(AppConfig):
    """The project package as an app: roles, health check, and the commands that run the stack."""

    name = "socialcrm"

    def ready(self) -> None:
        post_migrate.connect(_sync_roles, sender=self)


def _sync_roles(sender, apps=None, **kwargs) -> None:
    # Models added after the roles migration get their permissions granted here. (A flush sends no apps.)
    from django.apps import apps as installed_apps

    from socialcrm.roles import sync_role_groups

    sync_role_groups(apps or installed_apps)
