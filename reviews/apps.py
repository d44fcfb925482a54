from django.apps import AppConfig


class ReviewsConfig(AppConfig):
    name = "reviews"
    verbose_name = "Reviews"

    def ready(self) -> None:
        from reviews import signals  # noqa: F401  (sign-in audit receivers)
        from reviews.warm import web_warm_start

        # The run server and gunicorn load the letter renderer (and, with eager Celery, the
        # notes reader) as they start; every other command skips it.
        web_warm_start()
