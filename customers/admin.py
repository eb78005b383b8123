from django.contrib import admin

from customers.models import Customer, CustomerNote, CustomerRecord, Identity, Merge


class IdentityInline(admin.TabularInline):
    model = Identity
    extra = 0
    fields = ["network", "external_id", "handle", "display_name", "followers", "verified", "profile_url"]


class CustomerRecordInline(admin.TabularInline):
    model = CustomerRecord
    extra = 0
    fields = ["kind", "source", "external_ref", "title", "status", "amount", "occurred_at"]
    ordering = ["-occurred_at"]


class CustomerNoteInline(admin.TabularInline):
    model = CustomerNote
    extra = 0
    fields = ["text", "author", "created_at"]
    readonly_fields = ["author", "created_at"]


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ["__str__", "email", "phone", "tier", "lifetime_value", "external_ref", "created_at"]
    list_filter = ["tier", "identities__network", ("merged_into", admin.EmptyFieldListFilter), "created_at"]
    search_fields = ["name", "email", "phone", "external_ref", "identities__handle", "identities__external_id"]
    ordering = ["name"]
    date_hierarchy = "created_at"
    raw_id_fields = ["merged_into"]
    inlines = [IdentityInline, CustomerRecordInline, CustomerNoteInline]

    def save_formset(self, request, form, formset, change):
        for note in formset.save(commit=False):
            if isinstance(note, CustomerNote) and note.author_id is None:
                note.author = request.user
            note.save()
        for gone in formset.deleted_objects:
            gone.delete()
        formset.save_m2m()

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


@admin.register(Merge)
class MergeAdmin(admin.ModelAdmin):
    """The record of merges. Merging and undoing happen on the customer page, where both sides are shown."""

    list_display = ["__str__", "kept", "merged", "by", "created_at", "undone_at", "undone_by"]
    list_filter = [("undone_at", admin.EmptyFieldListFilter), "created_at"]
    search_fields = ["kept__name", "merged__name", "kept__email", "merged__email"]
    list_select_related = ["kept", "merged", "by", "undone_by"]
    readonly_fields = [field.name for field in Merge._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
