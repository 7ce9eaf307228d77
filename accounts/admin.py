from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from accounts.models import ApiToken, AuditEvent, CollectionMembership


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ("prefix", "user", "name", "read_only", "collections_limited", "created_at", "last_used_at", "revoked_at")
    readonly_fields = ("prefix", "token_hash", "created_at", "last_used_at")
    filter_horizontal = ("collections",)


@admin.register(CollectionMembership)
class CollectionMembershipAdmin(admin.ModelAdmin):
    list_display = ("collection", "user", "group", "role", "created_at")
    list_filter = ("role", "collection")


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """The audit log for staff: browse, filter and search; nothing can be added, changed or deleted."""

    list_display = ("created_at", "action", "actor_username", "target_type", "target_label", "ip", "request_id")
    list_filter = ("action", "created_at", "target_type", ("actor", admin.RelatedOnlyFieldListFilter))
    search_fields = ("actor_username", "target_label", "target_id", "request_id", "ip")
    date_hierarchy = "created_at"
    list_select_related = False
    show_full_result_count = False

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [field.name for field in AuditEvent._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.is_active and request.user.is_staff)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.is_active and request.user.is_staff)
