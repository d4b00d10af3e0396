"""API tokens in admin: a researcher sees, makes and deletes only their own token; only a superuser
sees everyone's or makes one for someone else (docs/security.md). Replaces DRF's token admin, which
shows every key to anyone given the token permissions and lets them pick the token's user."""

from django.contrib import admin
from rest_framework.authtoken.admin import TokenAdmin
from rest_framework.authtoken.models import Token, TokenProxy

admin.site.unregister(TokenProxy)


@admin.register(TokenProxy)
class ApiTokenAdmin(TokenAdmin):
    list_filter = ()
    search_fields = ()

    def has_module_permission(self, request):
        return request.user.is_active and request.user.is_staff

    def has_view_permission(self, request, obj=None):
        return self.has_module_permission(request)

    def has_add_permission(self, request):
        # A user holds at most one token; a researcher who has one deletes it to get a new one.
        if request.user.is_superuser:
            return True
        return self.has_module_permission(request) and not Token.objects.filter(user=request.user).exists()

    def has_change_permission(self, request, obj=None):
        return False  # a token is made or deleted, never handed to another user

    def has_delete_permission(self, request, obj=None):
        return self.has_module_permission(request)

    def get_queryset(self, request):
        rows = super().get_queryset(request)
        return rows if request.user.is_superuser else rows.filter(user=request.user)

    def get_fields(self, request, obj=None):
        return ("user",) if request.user.is_superuser else ()

    def save_model(self, request, obj, form, change):
        if not request.user.is_superuser:
            obj.user = request.user  # whatever was posted: a researcher's token is their own
        super().save_model(request, obj, form, change)
