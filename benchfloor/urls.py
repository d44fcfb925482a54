from django.urls import path

from benchfloor.views import FloorCreateApi

urlpatterns = [path("", FloorCreateApi.as_view(), name="bench-floor")]
