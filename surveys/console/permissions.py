"""Who may use the REST API: a researcher, i.e. an active staff account (docs/security.md, Roles).

A token alone is not enough: a participant-facing or otherwise non-staff account that somehow holds
one gets 403 on every endpoint. What a researcher then reaches is their own rows only, which each
view enforces by reading through the ``*_visible_to`` selectors (404 for anyone else's).
"""

from rest_framework.permissions import BasePermission


class IsResearcher(BasePermission):
    message = "The API is for researchers (staff accounts) only."

    def has_permission(self, request, view) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and user.is_active and user.is_staff)
