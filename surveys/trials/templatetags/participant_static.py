"""``{% participant_static "iris/runner.js" %}``: Django's ``static``, remembered per path.

The participant pages name about twenty static files, and resolving each through the storage costs
tens of microseconds on every page view: on the runner page that was a fifth of its CPU. A file's
URL depends only on the settings (and, with a manifest storage, the manifest read at start-up), so
each is resolved once per process and again only after a settings change (tests).
"""

import functools

from django import template
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.templatetags.static import static

register = template.Library()


@functools.cache
def static_url(path: str) -> str:
    return static(path)


@receiver(setting_changed)
def _forget_urls(*, setting: str, **kwargs) -> None:
    if setting in {"STATIC_URL", "STORAGES", "STATICFILES_STORAGE", "FORCE_SCRIPT_NAME"}:
        static_url.cache_clear()


@register.simple_tag(name="participant_static")
def participant_static(path: str) -> str:
    return static_url(path)
