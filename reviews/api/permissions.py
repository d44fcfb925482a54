"""Who may use the provider API."""

from reviews.http import IsProvider  # noqa: F401 - the API views import it from here
