"""The three roles of a contact centre and what each may do.

Roles are Django groups. The tables below are the one place their permissions are written; the
data migration creates the groups from them and a post_migrate hook keeps them in step as models
are added.
"""

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser


class Role:
    AGENT = "agent"
    MANAGER = "manager"
    ADMIN = "admin"

    ALL = (AGENT, MANAGER, ADMIN)


# "app_label.codename" strings; "app_label.*" grants every permission of that app.
ROLE_PERMISSIONS: dict[str, tuple[str, ...]] = {
    Role.AGENT: (
        "customers.view_customer",
        "customers.change_customer",
        "customers.view_identity",
        "customers.view_customerrecord",
        "customers.view_customernote",
        "customers.add_customernote",
        "inbox.view_channel",
        "inbox.view_conversation",
        "inbox.change_conversation",
        "inbox.view_message",
        "inbox.add_message",
        "inbox.view_note",
        "inbox.add_note",
        "inbox.view_cannedreply",
        "inbox.view_label",
        "inbox.view_macro",
        "triage.view_queue",
        "triage.view_triagedecision",
        "triage.add_correction",
    ),
    Role.MANAGER: (
        "customers.*",
        "inbox.view_channel",
        "inbox.view_conversation",
        "inbox.change_conversation",
        "inbox.view_message",
        "inbox.add_message",
        "inbox.view_note",
        "inbox.add_note",
        "inbox.view_event",
        "inbox.*_cannedreply",
        "inbox.*_label",
        "inbox.*_macro",
        "triage.view_queue",
        "triage.change_queue",
        "triage.view_slapolicy",
        "triage.view_routingrule",
        "triage.view_classifierversion",
        "triage.view_triagedecision",
        "triage.view_triagesettings",
        "triage.*_correction",
    ),
    Role.ADMIN: (
        "customers.*",
        "inbox.*",
        "triage.*",
        "socialcrm.*",
        "auth.*",
        "account.*",
        "mfa.view_authenticator",
        "mfa.delete_authenticator",
    ),
}

# Roles that work in Django admin.
STAFF_ROLES = frozenset({Role.ADMIN})
# Roles that see every queue rather than only their own.
SUPERVISOR_ROLES = frozenset({Role.MANAGER, Role.ADMIN})


def sync_role_groups(apps) -> None:
    """Create the role groups and give each exactly the permissions the table grants.

    Takes an app registry so that a data migration can pass its historical one.
    """
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    permissions = list(Permission.objects.select_related("content_type"))
    for role, patterns in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role)
        group.permissions.set([p for p in permissions if _granted(p, patterns)])


def _granted(permission, patterns: tuple[str, ...]) -> bool:
    app_label = permission.content_type.app_label
    codename = permission.codename
    model = codename.partition("_")[2]
    for pattern in patterns:
        pattern_app, _, pattern_code = pattern.partition(".")
        if pattern_app != app_label:
            continue
        if pattern_code in {"*", codename} or pattern_code == f"*_{model}":
            return True
    return False


def role_of(user: AbstractBaseUser | AnonymousUser) -> str | None:
    """The user's role, the highest if they somehow hold several; None for anyone else."""
    if not user.is_authenticated:
        return None
    if user.is_superuser:
        return Role.ADMIN
    # Asked several times a request; the user object lives for one request, so cache it there.
    if not hasattr(user, "_socialcrm_role"):
        names = set(user.groups.values_list("name", flat=True))
        user._socialcrm_role = next((role for role in reversed(Role.ALL) if role in names), None)
    return user._socialcrm_role


def is_supervisor(user: AbstractBaseUser | AnonymousUser) -> bool:
    """Managers and admins see every queue; agents see only their own."""
    return role_of(user) in SUPERVISOR_ROLES
