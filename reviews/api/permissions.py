"""Who may use the provider API."""

from rest_framework.permissions import BasePermission

from reviews.models import Role


class IsProvider(BasePermission):
    """A signed-in provider user who belongs to an organization.

    Reviewers and auditors work through the web pages and their own APIs; a provider user without
    an organization could not be scoped to one, so it is refused too.
    """

    message = "The provider API is for provider users of an organization."

    def has_permission(self, request, view) -> bool:
        user = request.user
        return bool(
            user and user.is_authenticated and user.organization_id and user.has_role(Role.PROVIDER)
        )
