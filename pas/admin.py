"""Admin registration of SMART Backend Services clients: an administrator adds an EHR's public keys
(JWKS) or the URL it publishes them at, the provider user it acts as and the scopes it may ask; SmartClient.clean validates them."""

from django.contrib import admin
from django.db import models

from pas.models import SmartClient


@admin.register(SmartClient)
class SmartClientAdmin(admin.ModelAdmin):
    list_display = ("client_id", "name", "user", "active", "created_at")
    list_filter = ("active",)
    search_fields = ("client_id", "name", "user__username")
    readonly_fields = ("created_at",)
    fields = ("client_id", "name", "user", "jwks", "jwks_url", "scopes", "active", "created_at")
    raw_id_fields = ("user",)
    # A JWKS URL is https (SmartClient.clean refuses plain http off the loopback): a URL typed
    # without a scheme is taken as https.
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
