from django.apps import AppConfig
from django.db.models.signals import post_migrate


class SocialcrmConfig(AppConfig):
    """The project package as an app: roles, health check, and the commands that run the stack."""

    name = "socialcrm"

    def ready(self) -> None:
        # After every app's post_migrate, not only ours: an app migrated after this one creates its
        # permissions in its own post_migrate, and the roles must be granted them too.
        post_migrate.connect(_sync_roles, dispatch_uid="socialcrm-sync-roles")


def _sync_roles(sender, apps=None, **kwargs) -> None:
    # Models added after the roles migration get their permissions granted here. (A flush sends no apps.)
    from django.apps import apps as installed_apps

    from socialcrm.roles import sync_role_groups

    sync_role_groups(apps or installed_apps)
