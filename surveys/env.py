"""Strict parsing of configuration from the environment (docs/conventions.md §10).

Every environment variable the web side reads is read here, through these functions, and nowhere
else. Every reader names the variable in its error, so a typo in a deployment fails at start-up
with a message that says which setting to fix, instead of a surprise at the first request.
"""

import base64
import ipaddress
import os

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}
# Every variable asked for so far. Settings ask for all of theirs at start-up, whatever their values,
# so after loading them this is the full list the README's configuration table must show (a test checks).
ASKED: set[str] = set()


def _read(name: str) -> str | None:
    ASKED.add(name)
    return os.environ.get(name)


def env_str(name: str, default: str | None = None) -> str | None:
    value = _read(name)
    return default if value is None else value


def env_bool(name: str, default: bool) -> bool:
    value = _read(name)
    if value is None:
        return default
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={value!r} is not a boolean: use one of true/false, 1/0, yes/no, on/off")


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    value = _read(name)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={value!r} is not a whole number") from None
    if minimum is not None and number < minimum:
        raise ImproperlyConfigured(f"{name}={number} must be at least {minimum}")
    return number


def env_list(name: str, default: list[str]) -> list[str]:
    value = _read(name)
    if value is None:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


def env_choice(name: str, default: str, choices: set[str]) -> str:
    value = env_str(name, default)
    if value not in choices:
        raise ImproperlyConfigured(f"{name}={value!r} must be one of {sorted(choices)}")
    return value


def env_fernet_key(name: str) -> str | None:
    """A Fernet key (32 bytes, URL-safe base64, as ``Fernet.generate_key()`` prints it), or None if unset."""
    value = env_str(name)
    if not value:
        return None
    try:
        raw = base64.urlsafe_b64decode(value.encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        raw = b""
    if len(raw) != 32:
        raise ImproperlyConfigured(f"{name} is not a Fernet key: make one with "
                                   "python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'")
    return value


def env_networks(name: str) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """IP networks, comma-separated, in CIDR notation ("10.1.0.0/16"; an address alone is one host); none if unset."""
    networks = []
    for item in env_list(name, []):
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ImproperlyConfigured(f"{name}: {item!r} is not an IP network such as 10.1.0.0/16 or 127.0.0.1") from None
    return networks
