from django.apps import AppConfig
from django.db.models.signals import post_migrate


class SocialcrmConfig(AppConfig):
    """The project package as an app: roles, health check, and the commands that run the stack."""

    name = "socialcrm"

    def ready(self) -> None:
        # Listens to every app's post_migrate: an app migrated after this one creates its
        # permissions in its own post_migrate, and the roles must be granted them too.
        post_migrate.connect(_sync_roles, dispatch_uid="socialcrm-sync-roles")
        from socialcrm import preferences  # noqa: F401 - connects its sign-in receiver


def _sync_roles(sender, apps=None, **kwargs) -> None:
    # Models added after the roles migration get their permissions granted here, once every app has
    # created its permissions: so only after the last app's post_migrate. (A flush sends no apps.)
    from django.apps import apps as installed_apps

    from socialcrm.roles import sync_role_groups

    last = [config for config in installed_apps.get_app_configs() if config.models_module is not None][-1]
    if sender.label == last.label:
        sync_role_groups(apps or installed_apps)
