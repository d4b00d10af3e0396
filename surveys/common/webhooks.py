"""Calling a researcher's webhook without letting it reach into the server's network (docs/notifications.md).

A researcher is trusted with their own studies, not with the network IRIS runs in: a webhook URL could
name the cloud's metadata service (169.254.169.254), the database, or an admin port on localhost, and
have the server call it for them (server-side request forgery). So a URL is called only when every
address its host resolves to is public, or inside a network the operator allowed
(IRIS_WEBHOOK_ALLOWED_NETWORKS); this is checked when the URL is saved and again before each call,
and the call connects to the address that was checked rather than resolving the name a second time
(a name that answered a public address to the check could answer a private one to the call: DNS
rebinding). Redirects are not followed; plain http is only for receivers inside an allowed network.

No Django here: the callers turn a refusal into their own error.
"""

import hashlib
import hmac
import http.client
import ipaddress
import socket
import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

WEBHOOK_TIMEOUT_S = 5  # to connect, and for each read of the answer
ANSWER_LIMIT_BYTES = 64 * 1024  # of the receiver's answer, read and dropped
SIGNATURE_HEADER = "X-IRIS-Signature"
TIMESTAMP_HEADER = "X-IRIS-Timestamp"

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
# IPv6 addresses that carry an IPv4 one the network may route to: NAT64's well-known prefix.
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class WebhookRefused(ValueError):
    """This URL may not be called; the message says why, in words the researcher can act on."""


class WebhookFailed(Exception):
    """The call was tried and did not succeed (no address, no answer, or an answer other than 2xx)."""


@dataclass(frozen=True)
class WebhookTarget:
    """A checked URL: where to connect (``address``, never the name again) and what to ask for."""

    scheme: str
    host: str
    port: int
    path: str
    address: str


def webhook_sign(*, secret: str, timestamp: str, body: bytes) -> str:
    """The signature header's value: HMAC-SHA256 of ``<timestamp>.<body>`` under the secret, in hex."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def webhook_target(url: str, *, allowed: Sequence[Network]) -> WebhookTarget:
    """Check a webhook URL and resolve its host. WebhookRefused: it may not be called (the
    scheme, a user name in it, an address that is not public); WebhookFailed: the name does not
    resolve now (which a later try may not meet)."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise WebhookRefused("A webhook URL starts with https:// and names a host.")
    if parts.username or parts.password:
        raise WebhookRefused("Leave the user name and password out of the webhook URL: the signature "
                             f"({SIGNATURE_HEADER}) is what proves the call comes from IRIS.")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise WebhookRefused("The webhook URL's port is not a number from 1 to 65535.") from None
    addresses = _resolved(parts.hostname, port)
    for address in addresses:
        refusal = _refusal(address, allowed=allowed)
        if refusal:
            host = parts.hostname if parts.hostname == str(address) else f"{parts.hostname} ({address})"
            raise WebhookRefused(f"The webhook's host {host} is {refusal} address: IRIS calls only public "
                                 "addresses, so that a webhook cannot reach inside its own network (the "
                                 "operator may allow an internal network with IRIS_WEBHOOK_ALLOWED_NETWORKS).")
    if parts.scheme == "http" and not all(_allowed(address, allowed) for address in addresses):
        raise WebhookRefused("Use an https:// webhook URL: plain http is only for receivers inside a network "
                             "the operator allowed.")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return WebhookTarget(parts.scheme, parts.hostname, port, path, str(addresses[0]))


def webhook_post(*, target: WebhookTarget, body: bytes, headers: Mapping[str, str]) -> int:
    """POST ``body`` as JSON to a checked target; its status when 2xx, else WebhookFailed."""
    pinned = _PinnedHTTPS if target.scheme == "https" else _PinnedHTTP
    connection = pinned(target, timeout_s=WEBHOOK_TIMEOUT_S)
    try:
        connection.request("POST", target.path, body=body,
                           headers={"Content-Type": "application/json", "User-Agent": "IRIS-webhook/1", **headers})
        answer = connection.getresponse()
        answer.read(ANSWER_LIMIT_BYTES)
    except (OSError, http.client.HTTPException) as error:  # OSError: refused, timed out, TLS (ssl.SSLError)
        raise WebhookFailed(f"{target.host} did not answer: {error}") from None
    finally:
        connection.close()
    if not 200 <= answer.status < 300:
        raise WebhookFailed(f"{target.host} answered {answer.status} {answer.reason}".strip())
    return answer.status


def _resolved(host: str, port: int) -> list[Address]:
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise WebhookFailed(f"{host} does not resolve: {error}") from None
    # An IPv6 link-local answer carries its interface ("fe80::1%eth0"): the address is before the %.
    return list(dict.fromkeys(ipaddress.ip_address(info[4][0].split("%")[0]) for info in found))


def _allowed(address: Address, allowed: Sequence[Network]) -> bool:
    return any(address.version == network.version and address in network for network in allowed)


def _refusal(address: Address, *, allowed: Sequence[Network]) -> str:
    """What kind of address this is ("a loopback"), when it may not be called; "" when it may."""
    if _allowed(address, allowed):
        return ""
    embedded = _embedded_ipv4(address)
    if embedded is not None:  # the network delivers it to the IPv4 address: that one decides
        return _refusal(embedded, allowed=allowed)
    kinds = (("a loopback", address.is_loopback), ("a link-local", address.is_link_local),
             ("a private", address.is_private), ("a multicast", address.is_multicast),
             ("an unspecified", address.is_unspecified), ("a reserved", address.is_reserved),
             ("a non-public", not address.is_global))
    return next((kind for kind, found in kinds if found), "")


def _embedded_ipv4(address: Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one stands for (::ffff:127.0.0.1, 6to4, NAT64), if any."""
    if address.version != 6:
        return None
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address.ipv4_mapped or address.sixtofour


class _PinnedHTTP(http.client.HTTPConnection):
    """Connects to the address that was checked; the name still goes in the Host header."""

    def __init__(self, target: WebhookTarget, *, timeout_s: float):
        super().__init__(target.host, target.port, timeout=timeout_s)
        self.address = target.address

    def connect(self) -> None:
        self.sock = socket.create_connection((self.address, self.port), self.timeout)


class _PinnedHTTPS(_PinnedHTTP):
    """As _PinnedHTTP, over TLS: the certificate is checked against the name, not the address."""

    def connect(self) -> None:
        super().connect()
        self.sock = ssl.create_default_context().wrap_socket(self.sock, server_hostname=self.host)
