"""What a researcher writes for a study is what its participants read: a similarity study's edited
question and scale ends appear on the trial screen in Chromium, and its instructions before the first trial."""

import pytest

from surveys.studies.services import study_update
from tests.surveys import factories
from tests.surveys.browser import fresh_contexts

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


def test_a_similarity_participant_reads_the_question_and_scale_the_researcher_wrote(live_server, shared_chromium):
    researcher = factories.researcher()
    study = factories.study(researcher, n_items=2, paradigm="similarity")
    study_update(study=study, editor=researcher, prompt="Are these the same picture?", scale_low_label="not at all",
                 scale_high_label="the very same", instructions_html="Rate each pair of pictures.")

    with fresh_contexts(shared_chromium) as browser:
        page = browser.new_page()
        page.goto(f"{live_server.url}/s/{study.public_id}/")
        page.click("#begin")
        page.click("#agree")
        instructions = page.inner_text(".iris-instructions", timeout=15_000)
        page.click("#jspsych-instructions-next")
        page.wait_for_selector(".iris-scale-labels", timeout=15_000)
        prompt, scale = page.inner_text(".iris-prompt"), page.inner_text(".iris-scale-labels")

    assert instructions == "Rate each pair of pictures."
    assert prompt == "Are these the same picture?"
    assert "1 = not at all" in scale and "7 = the very same" in scale
