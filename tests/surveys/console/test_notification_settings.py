"""A researcher chooses how they are told of their jobs and studies (docs/notifications.md): in admin
(Notification settings, submitted as the page posts it) and over the REST API (/api/notifications/),
each seeing and changing only their own. A webhook's secret is shown once, when it is made; what was
sent is listed under Notifications. The receivers here live on 127.0.0.1, which the tests allow as an
operator allows an internal network."""

import ipaddress
import re

import pytest
from django.urls import reverse

from surveys.generation.models import Notification, NotificationEvent, NotificationSettings
from surveys.generation.notifications import notification_send
from tests.surveys.admin_coverage import submits

pytestmark = pytest.mark.django_db
HOOK = "http://127.0.0.1:9/iris-hook"  # checked when saved, never called here


@pytest.fixture(autouse=True)
def loopback_allowed(settings):
    settings.IRIS_WEBHOOK_ALLOWED_NETWORKS = [ipaddress.ip_network("127.0.0.1/32")]


def shown_secret(response) -> str:
    found = [re.search(r"Your webhook secret is (\S+) :", str(m)) for m in response.context["messages"]]
    return next((match.group(1) for match in found if match), "")


@submits("generation.notificationsettings", "add")
def test_a_researcher_chooses_events_and_a_webhook_and_sees_its_secret_once(client, researcher):
    client.force_login(researcher)
    add = reverse("admin:generation_notificationsettings_add")

    refused = client.post(add, {"events": ["job.failed"], "email": "on", "webhook_url": "ftp://files.lab.example/"})
    saved = client.post(add, {"events": ["job.failed", "study.filled"], "email": "on", "webhook_url": HOOK},
                        follow=True)
    row = NotificationSettings.objects.get()
    change_page = client.get(reverse("admin:generation_notificationsettings_change", args=[row.pk])).content.decode()

    assert refused.status_code == 200 and "A webhook URL starts with https://" in refused.content.decode()
    assert saved.redirect_chain and shown_secret(saved) == row.webhook_secret != ""
    assert (row.owner, row.events, row.email, row.webhook_url) == (researcher, ["job.failed", "study.filled"],
                                                                    True, HOOK)
    assert row.webhook_secret not in change_page
    assert "Add notification settings" not in client.get(reverse("admin:index")).content.decode()


@submits("generation.notificationsettings", "change")
def test_a_researcher_makes_a_new_secret_removes_the_webhook_and_a_refusal_changes_nothing(client, researcher):
    client.force_login(researcher)
    client.post(reverse("admin:generation_notificationsettings_add"),
                {"events": ["job.done"], "email": "on", "webhook_url": HOOK}, follow=True)  # its message read
    row = NotificationSettings.objects.get()
    change = reverse("admin:generation_notificationsettings_change", args=[row.pk])
    first = row.webhook_secret

    renewed = client.post(change, {"events": ["job.done"], "email": "on", "webhook_url": HOOK, "new_secret": "on"},
                          follow=True)
    row.refresh_from_db()
    second = row.webhook_secret
    refused = client.post(change, {"events": [], "webhook_url": "https://169.254.169.254/latest/meta-data/"})
    row.refresh_from_db()
    after_refusal = (row.events, row.email, row.webhook_secret)
    removed = client.post(change, {"events": ["job.done"], "webhook_url": ""}, follow=True)
    row.refresh_from_db()

    assert shown_secret(renewed) == second and second not in ("", first)
    assert "169.254.169.254 is a link-local address" in refused.content.decode()
    assert after_refusal == (["job.done"], True, second)
    assert shown_secret(removed) == ""
    assert (row.webhook_url, row.webhook_secret, row.email) == ("", "", False)


def test_each_researcher_sees_only_their_own_settings_and_notifications(client, researcher, other_researcher):
    researcher.email = "ada@lab.example"
    researcher.save()
    client.force_login(researcher)
    client.post(reverse("admin:generation_notificationsettings_add"), {"events": ["job.done"], "webhook_url": HOOK})
    notification_send(event=NotificationEvent.JOB_DONE, owner=researcher, about="job:1", summary="Job 1 finished")
    mine = reverse("admin:generation_notification_change", args=[Notification.objects.get().pk])

    client.force_login(other_researcher)
    settings_list = client.get(reverse("admin:generation_notificationsettings_changelist")).content.decode()
    notifications = client.get(reverse("admin:generation_notification_changelist")).content.decode()
    peek = client.get(mine)

    assert HOOK not in settings_list and "0 notification settings" in settings_list
    assert "Job 1 finished" not in notifications
    assert peek.status_code == 302  # admin sends a row the user cannot see back to the index
    client.force_login(researcher)
    assert "Job 1 finished" in client.get(mine).content.decode()


def test_the_api_shows_the_defaults_then_saves_and_answers_the_secret_only_when_made(api_as, researcher):
    api = api_as(researcher)

    defaults = api.get("/api/notifications/").json()
    saved = api.put("/api/notifications/", {"events": ["job.failed"], "email": False, "webhook_url": HOOK},
                    format="json").json()
    again = api.put("/api/notifications/", {"events": ["job.failed"], "email": False, "webhook_url": HOOK},
                    format="json").json()
    read = api.get("/api/notifications/").json()

    assert defaults == {"events": list(NotificationEvent.values), "email": True, "email_address": "",
                        "webhook_url": "", "has_webhook_secret": False}
    assert saved["webhook_secret"] == NotificationSettings.objects.get().webhook_secret != ""
    assert again["webhook_secret"] == ""
    assert read == {"events": ["job.failed"], "email": False, "email_address": "", "webhook_url": HOOK,
                    "has_webhook_secret": True}


def test_the_api_refuses_what_it_does_not_know_and_answers_researchers_only(api_as, researcher, other_researcher,
                                                                          anonymous):
    api_as(researcher).put("/api/notifications/", {"events": [], "email": True, "webhook_url": HOOK}, format="json")

    unknown_event = api_as(researcher).put("/api/notifications/", {"events": ["job.exploded"], "email": True,
                                                                   "webhook_url": ""}, format="json")
    unknown_field = api_as(researcher).put("/api/notifications/", {"events": [], "email": True, "webhook_url": "",
                                                                   "webhok": HOOK}, format="json")
    theirs = api_as(other_researcher).get("/api/notifications/").json()

    assert unknown_event.status_code == 400 and "job.exploded" in str(unknown_event.json())
    assert unknown_field.status_code == 400 and "webhok" in str(unknown_field.json())
    assert theirs["webhook_url"] == ""
    assert anonymous.get("/api/notifications/").status_code in (401, 403)
    assert NotificationSettings.objects.get().webhook_url == HOOK
