from django.apps import AppConfig


class BenchfloorConfig(AppConfig):
    name = "benchfloor"
    verbose_name = "Benchmark floor"
    default_auto_field = "django.db.models.BigAutoField"
