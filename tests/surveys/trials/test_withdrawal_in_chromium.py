"""Withdrawal as a participant meets it in a real browser, under the Content-Security-Policy: the end
page of a finished study shows the code and withdraws only once its box is ticked; the code page
then says the session is already withdrawn."""

import pytest

from surveys.trials.models import DataErasure, Participant
from tests.surveys import factories
from tests.surveys.browser import fresh_contexts
from tests.surveys.trials.scripted import Script, enter, run_through

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


def test_a_participant_withdraws_from_the_end_page_and_the_code_then_reports_it_done(live_server, shared_chromium):
    study = factories.study(factories.researcher(), n_items=2,
                            completion_url="https://app.prolific.com/submissions/complete?cc={code}")
    script = Script(decide=lambda trial: trial.layout["answer"])
    with fresh_contexts(shared_chromium) as browser:
        page = browser.new_page()
        script.watch(page)
        page.route("https://app.prolific.com/**", lambda route: route.fulfill(body="prolific"))
        enter(page, f"{live_server.url}/s/{study.public_id}/?PROLIFIC_PID=pid-chromium-1")
        run_through(page, script)
        code = page.inner_text("#withdrawal-code")

        page.click("#withdraw")  # the box is not ticked: the browser keeps the form
        refused = page.evaluate("() => !document.getElementById('withdraw-form').checkValidity()")
        still_here = Participant.objects.filter(study=study).exists()
        page.check("#withdraw-confirm")
        page.click("#withdraw")
        page.wait_for_selector("#withdrawn")
        reference = page.inner_text("#withdrawal-reference")

        page.goto(f"{live_server.url}/p/withdraw/")
        page.fill("#withdraw-code", code)
        page.check("#withdraw-confirm")
        page.click("#withdraw")
        page.wait_for_selector("#withdraw-outcome")
        second = page.inner_text("h1"), page.inner_text("#withdrawal-reference")

    assert refused and still_here
    assert not Participant.objects.filter(study=study).exists()
    assert DataErasure.objects.get().reference == reference
    assert second == ("Already withdrawn", reference)
    assert script.script_errors() == []
