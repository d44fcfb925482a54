"""What every HTTP interface of Lamina shares (the REST API under reviews/api/ and the FHIR
interface in pas/): who may use the provider endpoints, how a field is named in an error, and
which JSON text is refused. Neither interface imports the other; both import this."""

import json

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


def field_path(prefix: str, key) -> str:
    """The path of `key` under `prefix`: `x.y` for a field, `x[0]` for a list item.

    DRF reports the items of a list (ListField, many=True) as a dict keyed by integer index;
    every endpoint names them `x[0].y`, never `x.0.y`.
    """
    if isinstance(key, int) and not isinstance(key, bool):
        return f"{prefix}[{key}]"
    name = "" if key == "non_field_errors" else str(key)
    return f"{prefix}.{name}" if prefix and name else (prefix or name)


LONE_SURROGATE = (
    "The JSON holds an unpaired UTF-16 surrogate escape (\\ud800-\\udfff), which is not text; "
    "send valid Unicode."
)


def has_lone_surrogate(data) -> bool:
    """True when a string (key or value) holds a surrogate JSON allowed but UTF-8 cannot encode.

    Paired escapes ("\\ud83d\\ude00") decode to one character and pass; a lone one would fail
    later, in the idempotency digest or the database driver, as a server error.
    """
    try:
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False
