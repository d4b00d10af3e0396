"""gunicorn loads surveys/wsgi.py once before it forks its workers (--preload, docker/Dockerfile): every
view module and the URL tables are ready in the parent, and no database connection is open there to
be shared, broken, by the forked workers."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import sys
import surveys.wsgi
from django.db import connections
from django.urls import get_resolver
print("views loaded:", "surveys.trials.views" in sys.modules and "surveys.console.views" in sys.modules)
print("reverse tables filled:", get_resolver()._populated)
print("connections open:", sum(c.connection is not None for c in connections.all()))
"""


def test_the_app_is_loaded_warm_and_opens_no_connection_before_the_fork():
    done = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                          capture_output=True, text=True, timeout=120, check=False)

    assert done.returncode == 0, done.stderr[-2000:]
    assert "views loaded: True" in done.stdout
    assert "reverse tables filled: True" in done.stdout
    assert "connections open: 0" in done.stdout
