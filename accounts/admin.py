from django.contrib import admin

from accounts.models import ApiToken, CollectionMembership


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ("prefix", "user", "name", "read_only", "collections_limited", "created_at", "last_used_at", "revoked_at")
    readonly_fields = ("prefix", "token_hash", "created_at", "last_used_at")
    filter_horizontal = ("collections",)


@admin.register(CollectionMembership)
class CollectionMembershipAdmin(admin.ModelAdmin):
    list_display = ("collection", "user", "group", "role", "created_at")
    list_filter = ("role", "collection")
