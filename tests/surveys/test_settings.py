"""Settings come from the environment, parsed strictly; a bad value names its variable; every
variable is read through surveys/env.py and listed in the README's configuration table."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

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
    ("IRIS_PROLIFIC_KEY", "not-a-fernet-key"),
    ("IRIS_ADDRESS_RATE", "lots"),
    ("IRIS_WEBHOOK_ALLOWED_NETWORKS", "10.0.0.0/8, the lab"),
    ("EMAIL_PORT", "smtp"),
])
def test_it_refuses_a_malformed_value_naming_the_variable(name, value):
    env = {name: value}
    if name == "DATABASE_URL":
        env["DJANGO_SECRET_KEY"] = "x" * 50
    result = settings_with(env)

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert name in result.stderr.splitlines()[-1]


def mail_settings_with(env: dict) -> list[str]:
    probe = ("import django, os; os.environ['DJANGO_SETTINGS_MODULE'] = 'surveys.settings'; django.setup(); "
             "from django.conf import settings as s; print(s.EMAIL_BACKEND, s.EMAIL_PORT, s.EMAIL_USE_TLS)")
    return subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True,
                          env={"PATH": "/usr/bin:/bin", "HOME": "/tmp", **env}).stdout.split()


def test_it_mails_through_smtp_only_once_a_mail_server_is_named():
    assert mail_settings_with({}) == ["django.core.mail.backends.console.EmailBackend", "587", "True"]
    assert mail_settings_with({"EMAIL_HOST": "smtp.lab.example", "EMAIL_PORT": "25", "EMAIL_USE_TLS": "no"}) == [
        "django.core.mail.backends.smtp.EmailBackend", "25", "False"]


def test_it_wants_a_secret_key_in_production():
    result = settings_with({"DATABASE_URL": "postgres://u@db:5432/iris"})

    assert "DJANGO_SECRET_KEY" in result.stderr


def readme_variables() -> set[str]:
    """The names in the first column of the README's configuration table."""
    section = ROOT.joinpath("README.md").read_text().split("### Configuration", 1)[1]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    return {name for row in rows for name in re.findall(r"`([A-Z][A-Z0-9_]+)`", row.split("|")[1])}


def test_the_readme_lists_every_variable_the_settings_read():
    probe = ("import django, json, os; os.environ['DJANGO_SETTINGS_MODULE'] = 'surveys.settings'; django.setup(); "
             "from surveys import env; print(json.dumps(sorted(env.ASKED)))")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True,
                            env={"PATH": "/usr/bin:/bin", "HOME": "/tmp"})

    asked = set(json.loads(result.stdout.splitlines()[-1]))
    assert len(asked) > 20
    assert asked == readme_variables()


def test_nothing_reads_the_environment_around_env_py():
    readers = re.compile(r"os\.environ\.get|os\.environ\[|os\.getenv|environ\.get\(")
    found = [f"{path.relative_to(ROOT)}:{number}" for path in ROOT.joinpath("surveys").rglob("*.py")
             if path.name != "env.py"
             for number, line in enumerate(path.read_text().splitlines(), 1) if readers.search(line)]

    assert found == []
