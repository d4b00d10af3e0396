"""The web process never imports torch (docs/architecture.md: the one bridge is the generation runner)."""

import subprocess
import sys

PROBE = """
import os, sys
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "surveys.settings")
from django.core.wsgi import get_wsgi_application
get_wsgi_application()
from django.urls import get_resolver
def walk(patterns):
    for p in patterns:
        walk(getattr(p, "url_patterns", []))
        getattr(p, "callback", None)
walk(get_resolver().url_patterns)
import django.contrib.admin
for model_admin in django.contrib.admin.site._registry.values():
    model_admin.get_urls()
import surveys.generation.tasks, surveys.console.forms, surveys.console.api
print("torch" in sys.modules)
"""


def test_it_serves_the_web_app_without_loading_torch():
    result = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120, check=True)

    assert result.stdout.strip().splitlines()[-1] == "False"


def test_it_would_notice_torch_being_loaded():
    """The probe itself can fail: importing the runner does load torch."""
    probe = PROBE.replace("import surveys.generation.tasks", "import surveys.generation.runner, surveys.generation.tasks")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True)

    assert result.stdout.strip().splitlines()[-1] == "True"
