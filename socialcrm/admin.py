from django.contrib import admin

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
