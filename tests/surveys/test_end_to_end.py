"""The whole flow on real components: PostgreSQL, Redis, a Celery worker process, headless Chromium.

register a model -> job -> IRIs in storage -> study -> a scripted participant chooses the target on
a planted share of trials -> the reported alignment equals that share, inside its interval.
"""

import pytest

from surveys.generation import services as generation
from surveys.generation.models import JobStatus
from surveys.scoring.services import study_create
from surveys.trials.models import Response, Trial
from tests.surveys import factories
from tests.surveys.browser import celery_worker, fresh_contexts, trial_id_from_image_url, wait_for_job
from tests.surveys.trials.scripted import SHOWN_CHOICE_SCREEN

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]
JOB_TIMEOUT_S = 240
N_TARGETS = 6
TARGET_CHOSEN_ON = 4  # the planted share is 4/6


def take_the_survey(page, live_server_url: str, link: str, errors: list) -> list[tuple[str, int]]:
    """Answer every trial, choosing the target on the first TARGET_CHOSEN_ON; returns (trial id, choice)."""
    page.goto(live_server_url + link + "?PROLIFIC_PID=e2e-participant&STUDY_ID=s1&SESSION_ID=x1")
    page.click("#begin")
    page.click("#agree")
    try:
        page.click("#jspsych-instructions-next", timeout=10_000)
    except Exception:
        raise AssertionError(f"{errors} {page.content()[-1000:]}") from None
    answers = []
    for number in range(N_TARGETS):
        page.wait_for_selector(SHOWN_CHOICE_SCREEN)
        trial_id = trial_id_from_image_url(page.get_attribute(".iris-option[data-choice='0'] img", "src"))
        target_on_left = Trial.objects.get(public_id=trial_id).target_on_left
        choose_target = number < TARGET_CHOSEN_ON
        choice = 0 if target_on_left == choose_target else 1
        if number % 2:
            page.keyboard.press("f" if choice == 0 else "j")
        else:
            page.click(f".iris-option[data-choice='{choice}']")
        page.wait_for_function(f"() => !document.querySelector(\"img[src*='{trial_id}']\")")
        answers.append((trial_id, choice))
    page.wait_for_selector("#completion-code", timeout=20_000)
    return answers


def test_a_study_runs_from_model_registration_to_alignment_score(live_server, settings, researcher, checkpoint,
                                                                 api_as, shared_chromium):
    settings.IRIS_BATCH_SIZE = 4  # two batch tasks share the job
    model = factories.demo_model_registered(researcher, checkpoint)
    colours = [(230, 20, 20), (20, 220, 20), (20, 20, 230), (220, 220, 20), (20, 220, 220), (220, 20, 220)]
    targets = generation.target_set_create(owner=researcher, name="colours", uploads=[
        (f"target-{i}.png", factories.png_bytes(c, size=96)) for i, c in enumerate(colours)])

    with celery_worker() as worker:
        job = generation.job_submit(owner=researcher, model=model, target_set=targets,
                                    config={"layers": ["layer2"], "iterations": 30})
        job = wait_for_job(job, timeout_s=JOB_TIMEOUT_S, worker=worker)
    assert job.status == JobStatus.DONE, job.error
    assert job.stimuli.count() == N_TARGETS
    # 30 steps on a random network make images that fail the IRI criterion; this test is of the
    # flow, so the study surveys them anyway, as a researcher may choose to.
    study = study_create(owner=researcher, name="e2e", jobs=[job], design=factories.BARE_DESIGN,
                         include_failing=True)

    with fresh_contexts(shared_chromium) as browser:
        page = browser.new_page()
        errors = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.on("console", lambda message: message.type == "error" and errors.append(message.text))
        answers = take_the_survey(page, live_server.url, f"/s/{study.public_id}/", errors)
        assert page.inner_text("#completion-code") == study.completion_code
        assert errors == []

    stored = {r.trial.public_id: r for r in Response.objects.select_related("trial")}
    assert {trial: r.choice for trial, r in stored.items()} == dict(answers)
    assert all(r.rt_ms > 0 for r in stored.values())
    assert sum(r.chose_target for r in stored.values()) == TARGET_CHOSEN_ON

    [score] = api_as(researcher).get(f"/api/studies/{study.pk}/scores/").json()
    assert (score["score_name"], score["score"]) == ("target_share", pytest.approx(TARGET_CHOSEN_ON / N_TARGETS))
    assert score["ci_low"] <= score["score"] <= score["ci_high"]
    assert score["ci_low"] < score["ci_high"]
