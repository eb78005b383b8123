from django.contrib import admin

from customers.models import Customer, CustomerRecord, Identity


class IdentityInline(admin.TabularInline):
    model = Identity
    extra = 0
    fields = ["network", "external_id", "handle", "display_name", "followers", "verified", "profile_url"]


class CustomerRecordInline(admin.TabularInline):
    model = CustomerRecord
    extra = 0
    fields = ["kind", "source", "external_ref", "title", "status", "amount", "occurred_at"]
    ordering = ["-occurred_at"]


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ["__str__", "email", "phone", "tier", "lifetime_value", "external_ref", "created_at"]
    list_filter = ["tier", "identities__network", ("merged_into", admin.EmptyFieldListFilter), "created_at"]
    search_fields = ["name", "email", "phone", "external_ref", "identities__handle", "identities__external_id"]
    ordering = ["name"]
    date_hierarchy = "created_at"
    raw_id_fields = ["merged_into"]
    inlines = [IdentityInline, CustomerRecordInline]
    show_full_result_count = False


@admin.register(Identity)
class IdentityAdmin(admin.ModelAdmin):
    list_display = ["__str__", "network", "external_id", "display_name", "followers", "verified", "customer"]
    list_filter = ["network", "verified"]
    search_fields = ["handle", "display_name", "external_id", "customer__name", "customer__email"]
    ordering = ["-followers"]
    raw_id_fields = ["customer"]
    list_select_related = ["customer"]


@admin.register(CustomerRecord)
class CustomerRecordAdmin(admin.ModelAdmin):
    list_display = ["title", "kind", "source", "external_ref", "status", "amount", "occurred_at", "customer"]
    list_filter = ["kind", "source", "status"]
    search_fields = ["title", "external_ref", "customer__name", "customer__email"]
    ordering = ["-occurred_at"]
    date_hierarchy = "occurred_at"
    raw_id_fields = ["customer"]
    list_select_related = ["customer"]
