"""Settings come from the environment, parsed strictly; a bad value names its variable."""

import subprocess
import sys

import pytest

PROBE = "import django, os; os.environ['DJANGO_SETTINGS_MODULE']='surveys.settings'; django.setup(); " \
        "from django.conf import settings; print(settings.DATABASES['default']['ENGINE'], settings.CELERY_BROKER_URL)"


def settings_with(env: dict) -> subprocess.CompletedProcess:
    clean = {"PATH": "/usr/bin:/bin", "HOME": "/tmp", **env}
    return subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, env=clean, timeout=60, check=False)


def test_it_needs_no_services_by_default():
    result = settings_with({})

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["django.db.backends.sqlite3", "filesystem://"]


def test_it_uses_postgresql_and_redis_when_told():
    result = settings_with({"DATABASE_URL": "postgres://u@db:5432/iris", "CELERY_BROKER_URL": "redis://r:6379/0",
                            "DJANGO_SECRET_KEY": "x" * 50})

    assert result.stdout.split() == ["django.db.backends.postgresql", "redis://r:6379/0"]


@pytest.mark.parametrize(("name", "value"), [
    ("DJANGO_DEBUG", "maybe"),
    ("DATABASE_URL", "nosuchdb://x"),
    ("IRIS_BATCH_SIZE", "eight"),
    ("IRIS_BATCH_SIZE", "0"),
    ("IRIS_LOG_LEVEL", "LOUD"),
])
def test_it_refuses_a_malformed_value_naming_the_variable(name, value):
    env = {name: value}
    if name == "DATABASE_URL":
        env["DJANGO_SECRET_KEY"] = "x" * 50
    result = settings_with(env)

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert name in result.stderr.splitlines()[-1]


def test_it_wants_a_secret_key_in_production():
    result = settings_with({"DATABASE_URL": "postgres://u@db:5432/iris"})

    assert "DJANGO_SECRET_KEY" in result.stderr
