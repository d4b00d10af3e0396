"""An answer is only about what was seen, in a real browser against the live server: a trial whose
image is broken (500, or bytes that are no picture) is never shown, never answered, marked on the
server, left out of the scores, and the session still completes; an image lost to the connection is
waited for, not skipped."""

import time

import pytest

from surveys.scoring.selectors import study_scores
from surveys.trials.models import Participant, ParticipantStatus, Response, Trial
from tests.surveys import factories
from tests.surveys.browser import fresh_contexts, trial_id_from_image_url
from tests.surveys.trials.scripted import Script, enter, run_through

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]
BROKEN_INDEX = 1
OFFLINE_S = 4
CORRUPT_PNG = b"\x89PNG\r\n\x1a\n" + b"\x00 these bytes are no picture" * 20


def right(trial):
    return trial.layout["answer"]


class TrialImages:
    """Routes the images of the participant's trial at `index`: each request is counted and `fault`
    (a function of the route) decides its fate; every other image passes untouched."""

    def __init__(self, page, index: int, fault):
        self.index, self.fault, self.requests, self._is_it = index, fault, [], {}
        page.route("**/img/**", self.handle)

    def handle(self, route) -> None:
        trial_id = trial_id_from_image_url(route.request.url)
        if trial_id not in self._is_it:
            self._is_it[trial_id] = Trial.objects.get(public_id=trial_id).index == self.index
        if not self._is_it[trial_id]:
            route.continue_()
            return
        self.requests.append(time.monotonic())
        self.fault(route)


def server_error(route):
    route.fulfill(status=500, body="storage unavailable")


def corrupt(route):
    route.fulfill(status=200, body=CORRUPT_PNG, content_type="image/png")


def take_part(chromium, live_server, study, fault, *, index: int = BROKEN_INDEX) -> tuple[Participant, Script, TrialImages]:
    script = Script(decide=right, wait_ms=100)
    with fresh_contexts(chromium) as browser:
        page = browser.new_page()
        script.watch(page)
        images = TrialImages(page, index, fault)
        enter(page, f"{live_server.url}/s/{study.public_id}/")
        run_through(page, script)
        assert page.inner_text("#completion-code") == study.completion_code
    assert script.script_errors() == []
    return Participant.objects.get(study=study), script, images


@pytest.mark.parametrize(("paradigm", "fault"), [("2afc", server_error), ("classification", corrupt)],
                         ids=["2afc-500", "classification-corrupt"])
def test_a_trial_with_a_broken_image_is_never_answered_and_the_session_completes(live_server, shared_chromium, paradigm, fault):
    design = {"fixation_ms": 50, "stimulus_ms": 50, "mask_ms": 50} if paradigm == "classification" else {}
    study = factories.study(factories.researcher(), n_items=4, paradigm=paradigm, design=design)

    participant, script, images = take_part(shared_chromium, live_server, study, fault)

    assert participant.status == ParticipantStatus.COMPLETED
    broken = participant.trials.get(index=BROKEN_INDEX)
    assert broken.unavailable_at is not None
    assert not Response.objects.filter(trial=broken).exists()
    assert broken.public_id not in [action.trial_id for action in script.actions]  # it never came up
    stored = dict(Response.objects.filter(trial__participant=participant).values_list("trial__public_id", "choice"))
    assert stored == {action.trial_id: action.value for action in script.actions}
    assert len(stored) == 3
    assert len(images.requests) >= 3  # tried again before giving up
    [score] = study_scores(study=study, resamples=100)
    assert score.trials == 3


def test_an_image_lost_to_the_connection_is_waited_for_not_skipped(live_server, shared_chromium):
    study = factories.study(factories.researcher(), n_items=3)
    offline = {}

    def cut_off_for_a_while(route):
        offline.setdefault("until", time.monotonic() + OFFLINE_S)
        if time.monotonic() < offline["until"]:
            route.abort("internetdisconnected")
        else:
            route.continue_()

    participant, script, images = take_part(shared_chromium, live_server, study, cut_off_for_a_while)

    assert participant.status == ParticipantStatus.COMPLETED
    waited = participant.trials.get(index=BROKEN_INDEX)
    assert waited.unavailable_at is None
    assert Response.objects.get(trial=waited).choice == right(waited)
    assert len(script.actions) == 3 and Response.objects.filter(trial__participant=participant).count() == 3
    assert images.requests[-1] - images.requests[0] >= OFFLINE_S - 0.5  # it kept trying through the cut
