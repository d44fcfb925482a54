from django.conf import settings
from django.db import models


class FloorRow(models.Model):
    """One row per floor request: the least an authenticated DRF write can do."""

    submitted_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    payload = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)
