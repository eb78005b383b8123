from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.models import User

from socialcrm.accounts import sign_out_everywhere as end_every_session
from socialcrm.models import ApiToken


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Tokens are issued with `manage.py add_api_token` (the secret is shown once); here they are revoked."""

    list_display = ["name", "scope", "created_at", "last_used_at", "is_active"]
    list_filter = ["scope", "is_active"]
    search_fields = ["name"]
    ordering = ["-created_at"]
    fields = ["name", "scope", "created_by", "created_at", "last_used_at", "is_active"]
    readonly_fields = ["scope", "created_by", "created_at", "last_used_at"]

    def has_add_permission(self, request) -> bool:
        return False


@admin.action(description="Sign out everywhere (end every session of the selected people)")
def sign_out_everywhere(modeladmin, request, queryset):
    ended = sum(end_every_session(user) for user in queryset)
    modeladmin.message_user(request, f"Ended {ended} session{'s' if ended != 1 else ''} of {queryset.count()} people.")


class PersonAdmin(UserAdmin):
    """Django's user admin, with signing a person out of every device (a lost phone, someone leaving)."""

    actions = [*UserAdmin.actions, sign_out_everywhere]


admin.site.unregister(User)
admin.site.register(User, PersonAdmin)
