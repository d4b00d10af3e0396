"""Attack surface: any script that slips into a page (a sanitiser's miss, a template's mistake) must
still not run. Every page, participant, admin and API alike, carries a Content-Security-Policy that
allows scripts from our own files only, and nosniff; participant pages hold no inline script at all."""

import re

import pytest
from django.test import Client
from django.urls import reverse

from tests.surveys import factories

pytestmark = pytest.mark.django_db
# A <script> element with a body that runs: not one with a src, not json_script's data block.
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>", re.I)


def policy(response) -> dict[str, list[str]]:
    header = response.headers.get("Content-Security-Policy")
    assert header, f"no Content-Security-Policy on {response.request['PATH_INFO']}"
    return {part.split()[0]: part.split()[1:] for part in header.split(";") if part.strip()}


def assert_strict(response) -> None:
    directives = policy(response)
    assert directives["script-src"] == ["'self'"]
    assert directives["object-src"] == ["'none'"]
    assert directives["base-uri"] == ["'none'"]
    assert directives["frame-ancestors"] == ["'none'"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def participant_pages(study) -> list:
    """The start page, consent, the runner and the end page, each as a participant sees it."""
    client = Client()
    start = client.get(reverse("trials:start", args=[study.public_id]))
    page_url = client.post(reverse("trials:start", args=[study.public_id]))["Location"]
    consent = client.get(page_url)
    token = page_url.rstrip("/").split("/")[-1]
    client.post(reverse("trials:consent", args=[token]), {"agree": "yes"})
    runner = client.get(page_url)
    declined = Client()
    other = declined.post(reverse("trials:start", args=[study.public_id]))["Location"]
    declined.post(reverse("trials:consent", args=[other.rstrip("/").split("/")[-1]]), {"agree": "no"})
    done = declined.get(other)
    return [start, consent, runner, done]


def test_participant_pages_carry_the_policy_and_no_inline_script():
    study = factories.study(factories.researcher(), n_items=4,
                            completion_url="https://app.prolific.com/submissions/complete?cc={code}")
    pages = participant_pages(study)

    assert [page.status_code for page in pages] == [200, 200, 200, 200]
    assert 'id="consent-form"' in pages[1].content.decode() and 'id="iris-config"' in pages[2].content.decode()
    assert 'id="return-link"' in pages[3].content.decode()
    for page in pages:
        assert_strict(page)
        assert INLINE_SCRIPT.findall(page.content.decode()) == []


def test_admin_results_and_api_carry_the_policy(researcher_a, api_as):
    study = factories.study(researcher_a, n_items=4)
    client = Client()
    assert_strict(client.get("/admin/login/"))
    client.force_login(researcher_a)

    admin_page = client.get(f"/admin/studies/study/{study.pk}/change/")
    results = client.get(reverse("scoring-study-results", args=[study.pk]))
    api = api_as(researcher_a).get("/api/jobs/")

    for response in (admin_page, results, api):
        assert response.status_code == 200
        assert_strict(response)
    assert INLINE_SCRIPT.findall(admin_page.content.decode()) == []
    assert INLINE_SCRIPT.findall(results.content.decode()) == []
    assert "<style" not in results.content.decode()


def test_the_api_docs_page_needs_no_inline_script(researcher_a):
    """Swagger UI may come from its CDN there, and only there; its start-up script is our own URL."""
    client = Client()
    client.force_login(researcher_a)

    page = client.get("/api/docs/")
    start_up = client.get("/api/docs/?script=")

    assert page.status_code == 200
    assert policy(page)["script-src"] == ["'self'", "https://cdn.jsdelivr.net"]
    assert INLINE_SCRIPT.findall(page.content.decode()) == []
    assert start_up.status_code == 200
    assert start_up["Content-Type"].startswith("application/javascript")


def test_the_withdrawal_page_carries_the_policy_and_no_script_at_all():
    page = Client().get(reverse("trials:withdraw-code"))

    assert page.status_code == 200
    assert_strict(page)
    assert "<script" not in page.content.decode()


def test_the_policy_is_django_csps_own_and_follows_the_settings():
    """The header is built once per process (surveys/csp_policy.py); it is exactly what django-csp
    builds from the settings, and a change of the settings changes it."""
    from csp.utils import build_policy
    from django.test import override_settings

    page = Client().get(reverse("trials:withdraw-code"))
    assert page.headers["Content-Security-Policy"] == build_policy()

    with override_settings(CONTENT_SECURITY_POLICY={"DIRECTIVES": {"default-src": ["'none'"]}}):
        changed = Client().get(reverse("trials:withdraw-code"))
    again = Client().get(reverse("trials:withdraw-code"))

    assert changed.headers["Content-Security-Policy"] == "default-src 'none'"
    assert again.headers["Content-Security-Policy"] == page.headers["Content-Security-Policy"]
