from django.apps import AppConfig


class PasConfig(AppConfig):
    name = "pas"
    verbose_name = "FHIR (Da Vinci PAS)"
