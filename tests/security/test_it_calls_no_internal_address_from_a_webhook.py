"""Attack: a researcher (or whoever holds their account) sets their webhook to an address inside the
server's network (a service on localhost, the cloud's metadata endpoint), hoping IRIS will call it
for them. Unless the operator allowed that network (IRIS_WEBHOOK_ALLOWED_NETWORKS), the URL is refused
with a reason when it is saved, in admin and over the API, and nothing is ever sent to it: not when
the allowance is withdrawn after saving, not when a receiver redirects, not when the name resolves
elsewhere at the moment of the call (DNS rebinding). docs/notifications.md, docs/security.md."""

import ipaddress
import socket

import pytest
from django.urls import reverse

from surveys.generation.models import (
    DeliveryStatus,
    NotificationDelivery,
    NotificationEvent,
    NotificationSettings,
)
from surveys.generation.notifications import notification_send, notification_settings_set
from tests.fakes.webhook import WebhookReceiver

pytestmark = pytest.mark.django_db
EVERY_EVENT = list(NotificationEvent.values)
REFUSED = "IRIS calls only public addresses"


@pytest.fixture
def receiver():
    """A listener on 127.0.0.1 standing for a service inside the network: it must never be called."""
    with WebhookReceiver() as running:
        yield running


def event_for(researcher) -> None:
    notification_send(event=NotificationEvent.JOB_FAILED, owner=researcher, about="job:1", summary="Job 1 failed")


def test_the_admin_form_refuses_a_loopback_webhook_and_nothing_reaches_it(client, researcher_a, receiver,
                                                                          inline_tasks,
                                                                          django_capture_on_commit_callbacks):
    client.force_login(researcher_a)

    answer = client.post(reverse("admin:generation_notificationsettings_add"),
                         {"events": EVERY_EVENT, "webhook_url": receiver.url})
    with django_capture_on_commit_callbacks(execute=True):
        event_for(researcher_a)

    assert answer.status_code == 200
    assert "The webhook&#x27;s host 127.0.0.1 is a loopback address" in answer.content.decode()
    assert not NotificationSettings.objects.exists()
    assert receiver.calls == []


@pytest.mark.parametrize(("url", "kind"), [
    ("https://169.254.169.254/latest/meta-data/", "169.254.169.254 is a link-local address"),
    ("https://localhost:8000/admin/", "localhost (127.0.0.1) is a loopback address"),
    ("https://[::1]:6379/", "::1 is a loopback address"),
    ("https://[::ffff:10.0.0.5]/", "is a private address"),
    ("https://[fd00::1]/", "fd00::1 is a private address"),
    ("https://10.0.0.5:5432/", "10.0.0.5 is a private address"),
])
def test_the_api_refuses_internal_addresses_by_any_spelling(api_as, researcher_a, url, kind):
    answer = api_as(researcher_a).put("/api/notifications/", {"events": EVERY_EVENT, "email": True,
                                                               "webhook_url": url}, format="json")

    assert answer.status_code == 400
    [message] = answer.json()["detail"]
    assert kind in message and REFUSED in message
    assert not NotificationSettings.objects.exists()


def test_an_allowance_withdrawn_after_saving_stops_the_call(settings, researcher_a, receiver, inline_tasks,
                                                            django_capture_on_commit_callbacks):
    settings.IRIS_WEBHOOK_ALLOWED_NETWORKS = [ipaddress.ip_network("127.0.0.0/8")]
    notification_settings_set(owner=researcher_a, email=False, events=EVERY_EVENT, webhook_url=receiver.url)
    settings.IRIS_WEBHOOK_ALLOWED_NETWORKS = []

    with django_capture_on_commit_callbacks(execute=True):
        event_for(researcher_a)

    delivery = NotificationDelivery.objects.get()
    assert receiver.calls == []
    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.error.startswith("Not called: The webhook's host 127.0.0.1 is a loopback address")


def test_a_redirect_into_the_network_is_not_followed(settings, researcher_a, inline_tasks,
                                                     django_capture_on_commit_callbacks):
    """The receiver is allowed (127.0.0.1); what it points to (127.0.0.2, also loopback) is not."""
    settings.IRIS_WEBHOOK_ALLOWED_NETWORKS = [ipaddress.ip_network("127.0.0.1/32")]
    with WebhookReceiver(host="127.0.0.2") as inside, WebhookReceiver(redirect_to=inside.url) as hostile:
        notification_settings_set(owner=researcher_a, email=False, events=EVERY_EVENT, webhook_url=hostile.url)
        with django_capture_on_commit_callbacks(execute=True):
            notification_send(event=NotificationEvent.JOB_DONE, owner=researcher_a, about="job:1", summary="Done")
            # The task is tried again later; here, in the test's process, its first try is what counts.

    assert len(hostile.calls) == 1
    assert inside.calls == []
    assert "answered 307" in NotificationDelivery.objects.get().error


def test_a_name_that_resolves_elsewhere_at_the_call_is_not_followed_there(settings, researcher_a, monkeypatch,
                                                                          inline_tasks,
                                                                          django_capture_on_commit_callbacks):
    """DNS rebinding: the attacker's name answers the allowed address to each check, and an address
    inside the network to any later lookup. The call goes to the address that was checked."""
    settings.IRIS_WEBHOOK_ALLOWED_NETWORKS = [ipaddress.ip_network("127.0.0.1/32")]
    system_lookup = socket.getaddrinfo
    answers = {"checks": 0}

    def attacker_dns(host, port, *args, **kwargs):
        if host != "hooks.attacker.example":
            return system_lookup(host, port, *args, **kwargs)
        answers["checks"] += 1
        address = "127.0.0.1" if answers["checks"] % 2 else "127.0.0.2"  # each check, then the lookup after it
        return system_lookup(address, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", attacker_dns)
    with WebhookReceiver(host="127.0.0.1") as checked, WebhookReceiver(host="127.0.0.2", bind_port=checked.port) as inside:
        url = f"http://hooks.attacker.example:{checked.port}/iris-hook"
        notification_settings_set(owner=researcher_a, email=False, events=EVERY_EVENT, webhook_url=url)
        answers["checks"] = 0
        with django_capture_on_commit_callbacks(execute=True):
            event_for(researcher_a)

    assert len(checked.calls) == 1
    assert inside.calls == []
    assert NotificationDelivery.objects.get().status == DeliveryStatus.SENT
