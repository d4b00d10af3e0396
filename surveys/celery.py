"""The Celery application. Tasks take ids, never objects (docs/conventions.md §6)."""

import os

from celery import Celery
from celery.signals import worker_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "surveys.settings")

app = Celery("surveys")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_init.connect
def _worker_device_check(**_) -> None:
    from surveys.generation.tasks import worker_device_check  # lazy: models load after this module

    worker_device_check()
