"""Attacks in a real browser (Debian's Chromium): text a researcher or a zip's folder names put on a
participant page, an inline script slipped into a page, and an uploaded checkpoint named
weights.html. No script of theirs may run; above all, a staff researcher's study must not make his
account superuser when a superuser opens its participant link."""

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse

from surveys.generation.models import TargetImage
from surveys.studies.services import study_update
from surveys.trials.models import Trial
from tests.security.conftest import PASSWORD
from tests.surveys import factories
from tests.surveys.browser import fresh_contexts
from tests.surveys.trials.scripted import wait_for_trial

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]
FLAG = "window.__iris_xss"
# Run in a superuser's browser, this fetches the attacker's own user page in admin and saves it back
# with "superuser" ticked, with the superuser's session and CSRF token.
ESCALATE = ("window.__iris_xss=1;fetch('/admin/auth/user/{pk}/change/').then(r=>r.text()).then(t=>{{"
            "const f=new DOMParser().parseFromString(t,'text/html').querySelector('#user_form');"
            "const d=new FormData(f);d.set('is_superuser','on');d.set('is_staff','on');"
            "return fetch('/admin/auth/user/{pk}/change/',{{method:'POST',body:d}});}})")
INSTRUCTIONS = ('Choose the **more similar** image.\n\n<img src="/no-such-image" onerror="{js}">'
                '<script>window.__iris_xss=2</script><a href="javascript:window.__iris_xss=3">go</a>')
CATEGORY = '<img src=/no-such-image onerror="window.__iris_xss=4">'


def sign_in(page, base_url: str, username: str) -> None:
    page.goto(f"{base_url}/admin/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(f"{base_url}/admin/")


def open_instructions(page, base_url: str, study) -> None:
    page.goto(f"{base_url}/s/{study.public_id}/")
    page.click("#begin")
    page.click("#agree")
    page.wait_for_selector(".iris-instructions", timeout=20_000)


def test_instructions_cannot_make_their_author_superuser(live_server, researcher_a, superuser, shared_chromium):
    study = factories.study(researcher_a, n_items=4)
    study = study_update(study=study, editor=researcher_a,
                         instructions_html=INSTRUCTIONS.format(js=ESCALATE.format(pk=researcher_a.pk)))
    admin_requests = []

    with fresh_contexts(shared_chromium) as browser:
        page = browser.new_page()
        sign_in(page, live_server.url, superuser.username)
        page.on("request", lambda request: "/admin/auth/" in request.url and admin_requests.append(request.url))
        open_instructions(page, live_server.url, study)
        page.wait_for_timeout(1500)  # time for the payload's two requests, had it run
        flag = page.evaluate(FLAG)
        shown = page.inner_html(".iris-instructions")
        page.click(".iris-instructions a")
        clicked_flag = page.evaluate(FLAG)

    researcher_a.refresh_from_db()
    assert researcher_a.is_superuser is False
    assert admin_requests == []
    assert flag is None
    assert clicked_flag is None
    assert "<strong>more similar</strong>" in shown  # the Markdown itself still shows
    assert "onerror" not in shown and "<script" not in shown and "javascript:" not in shown


def test_markup_in_a_category_name_shows_as_text(live_server, researcher_a, shared_chromium):
    study = factories.study(researcher_a, n_items=4, paradigm="classification",
                            design={"fixation_ms": 100, "stimulus_ms": 200, "mask_ms": 100})
    TargetImage.objects.filter(target_set__owner=researcher_a, category="bird").update(category=CATEGORY)

    with fresh_contexts(shared_chromium) as browser:
        page = browser.new_page()
        open_instructions(page, live_server.url, study)
        page.click("#jspsych-instructions-next")
        wait_for_trial(page)
        page.wait_for_selector(".iris-category", state="visible", timeout=20_000)
        # Each button holds its label and, beside it, the key that answers it.
        labels = page.eval_on_selector_all(".iris-category .iris-label", "labels => labels.map(l => l.textContent)")
        images_in_buttons = page.eval_on_selector_all(".iris-categories img", "images => images.length")
        flag = page.evaluate(FLAG)

    assert CATEGORY in labels
    assert images_in_buttons == 0
    assert flag is None
    assert CATEGORY in Trial.objects.filter(participant__study=study).first().layout["labels"]


def test_the_policy_stops_an_inline_script_that_got_into_a_page(live_server, researcher_a, shared_chromium):
    """Had a template let markup through, the browser still refuses to run it."""
    study = factories.study(researcher_a, n_items=4)
    injected = '<script>window.__iris_xss=5</script><img src="/no-such-image" onerror="window.__iris_xss=6">'

    def inject(route):
        served = route.fetch()
        route.fulfill(response=served, body=served.text().replace("</main>", injected + "</main>"))

    with fresh_contexts(shared_chromium) as browser:
        page = browser.new_page()
        # The browser's own report of each refusal, recorded from before the page's first byte.
        page.add_init_script("window.__refused = []; document.addEventListener('securitypolicyviolation', "
                             "(event) => window.__refused.push(event.violatedDirective));")
        page.goto(f"{live_server.url}/s/{study.public_id}/")
        page.click("#begin")
        page.wait_for_selector("#agree")
        page.route("**/p/*/", inject)  # the consent page again, now with the markup in it
        page.reload()
        page.wait_for_selector("#agree")
        page.wait_for_function("() => window.__refused.length >= 2", timeout=5_000)
        flag = page.evaluate(FLAG)
        refused = page.evaluate("window.__refused")
        served = page.content()
        screen = page.eval_on_selector("#screen", "input => input.value")

    assert "__iris_xss=5" in served  # the markup is in the page...
    assert flag is None  # ...and none of it ran
    assert sorted(refused) == ["script-src-attr", "script-src-elem"]
    assert "x" in screen  # our own script (a static file) did run


def test_a_checkpoint_named_weights_html_is_downloaded_not_rendered(live_server, researcher_a, superuser, shared_chromium):
    model = factories.registered_model(researcher_a)
    model.weights.save("weights.html", ContentFile(b"<script>window.__iris_xss=7;fetch('/pwned')</script>"))
    url = f"{live_server.url}{reverse('researcher-file', args=[model.weights.name])}"
    requests = []

    with fresh_contexts(shared_chromium) as browser:
        page = browser.new_page(accept_downloads=True)
        sign_in(page, live_server.url, superuser.username)
        page.on("request", lambda request: requests.append(request.url))
        with page.expect_download() as download, pytest.raises(Exception, match="Download is starting|ERR_ABORTED"):
            page.goto(url)
        page.wait_for_timeout(500)
        flag = page.evaluate(FLAG)
        name = download.value.suggested_filename

    assert flag is None
    assert not any(r.endswith("/pwned") for r in requests)
    assert name.endswith(".html")  # the bytes as uploaded, saved to disk, never opened as a page


def test_admin_and_results_pages_work_under_the_policy(live_server, researcher_a, shared_chromium):
    """The policy is strict, yet admin's own scripts, the live progress bars and the results page run
    without a single violation."""
    study = factories.study(researcher_a, n_items=4)
    job = study.jobs.get()
    violations = []

    with fresh_contexts(shared_chromium) as browser:
        page = browser.new_page()
        page.on("console", lambda message: "Content Security Policy" in message.text and violations.append(message.text))
        sign_in(page, live_server.url, researcher_a.username)
        for path in (f"/admin/studies/study/{study.pk}/change/", f"/admin/generation/generationjob/{job.pk}/change/",
                     "/admin/generation/generationjob/submit/", "/admin/trials/participant/",
                     f"/researcher/studies/{study.pk}/results/"):
            page.goto(f"{live_server.url}{path}")
            page.wait_for_load_state("networkidle")
        page.goto(f"{live_server.url}/admin/trials/participant/")
        page.click("#toggle-nav-sidebar")
        sidebar_state = page.evaluate("localStorage.getItem('django.admin.navSidebarIsOpen')")

    assert violations == []
    assert sidebar_state == "false"  # admin's own script (nav_sidebar.js) ran and answered the click
