"""Warm starts: the clinical-note reader and the letter renderer load when a process starts.

Building medspaCy's pipeline takes seconds and so does WeasyPrint's first PDF (its import and the
font configuration); done on the first request, a provider's first submission or a reviewer's
first letter waits for it. Lamina does both when a process that serves requests starts:

- a Celery worker process (config.celery_app, worker_process_init): the notes reader, which the
  evidence checks use;
- the run server and gunicorn (ReviewsConfig.ready, only for those commands, never for migrate,
  tests or other management commands): the letter renderer, and the notes reader too when Celery
  runs eagerly in-process (the embedded default of `./lamina run`).

The web server warms in a background thread, so it answers at once; a request that needs the
reader or the renderer before it is ready waits for that one build, never for a second one.
LAMINA_WARM_START=0 turns it off (LAMINA_WARM_START=1 forces it for any process).
"""

import logging
import os
import sys
import threading
import time
from pathlib import Path

logger = logging.getLogger("lamina.warm")

_letters_lock = threading.Lock()
_letters_warm = False


def notes_reader_warm() -> float:
    """Build the notes pipeline and read one line through it; returns the seconds it took."""
    started = time.monotonic()
    from notes.reader import pipeline

    pipeline()("Lumbar radiculopathy. Denies fever.")
    return time.monotonic() - started


def letter_renderer_warm() -> float:
    """Import WeasyPrint, load the letter template and render one small PDF (fonts included)."""
    global _letters_warm
    started = time.monotonic()
    with _letters_lock:
        if not _letters_warm:
            from django.template.loader import get_template
            from weasyprint import HTML

            get_template("reviews/letter_print.html")
            HTML(string="<p style='font-family: sans-serif'>Lamina</p>").write_pdf()
            _letters_warm = True
    return time.monotonic() - started


def _wanted_for_command(argv: list[str]) -> bool:
    """Whether this process serves requests: gunicorn, or the run server's serving process."""
    switch = os.environ.get("LAMINA_WARM_START", "")
    if switch in ("0", "1"):
        return switch == "1"
    # `gunicorn ...` or `python -m gunicorn ...` (argv[0] is then gunicorn/__main__.py).
    if argv and any(part.startswith("gunicorn") for part in Path(argv[0]).parts):
        return True
    if len(argv) > 1 and argv[1] == "runserver":
        # With the autoreloader the serving process is the child (RUN_MAIN=true); the parent
        # only watches files.
        return "--noreload" in argv or os.environ.get("RUN_MAIN") == "true"
    return False


def web_warm_start(argv: list[str] | None = None) -> threading.Thread | None:
    """Warm the web process in the background when it serves requests; None otherwise."""
    if not _wanted_for_command(sys.argv if argv is None else argv):
        return None
    from django.conf import settings

    with_notes = bool(getattr(settings, "CELERY_TASK_ALWAYS_EAGER", False))

    def run() -> None:
        try:
            seconds = letter_renderer_warm()
            logger.info("warm start: letter renderer ready in %.1f s", seconds)
            if with_notes:
                seconds = notes_reader_warm()
                logger.info("warm start: notes reader ready in %.1f s", seconds)
        except Exception:  # noqa: BLE001 - a failed warm-up only means a slower first request
            logger.warning(
                "warm start failed; the first request loads what it needs", exc_info=True
            )

    thread = threading.Thread(target=run, name="lamina-warm-start", daemon=True)
    thread.start()
    return thread


def worker_warm_start() -> None:
    """Warm a Celery worker process (called from worker_process_init)."""
    if os.environ.get("LAMINA_WARM_START") == "0":
        return
    try:
        seconds = notes_reader_warm()
        logger.info("warm start: notes reader ready in %.1f s", seconds)
    except Exception:  # noqa: BLE001 - a failed warm-up only means a slower first task
        logger.warning("warm start failed; the first task loads what it needs", exc_info=True)
