"""IRIS web application (Django project package). Never imports torch."""

from surveys.celery import app as celery_app

__all__ = ["celery_app"]
