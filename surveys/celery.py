"""The Celery application. Tasks take ids, never objects (docs/conventions.md §6)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "surveys.settings")

app = Celery("surveys")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
