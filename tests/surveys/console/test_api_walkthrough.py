"""examples/api_walkthrough.py, run as a researcher would run it: a separate process that speaks only
HTTP to a live server (pytest-django's), whose jobs a real celery worker runs on PostgreSQL and Redis."""

import re
import subprocess
import sys
from pathlib import Path

import pytest
from rest_framework.authtoken.models import Token

from surveys.generation.models import JobStatus
from surveys.scoring.selectors import study_scores
from surveys.studies.models import Study, StudyStatus
from surveys.trials.models import ParticipantStatus, Response, TrialKind
from tests.surveys.browser import celery_worker, worker_log

# slow (make test-slow): the whole walkthrough with a worker; test_end_to_end.py runs a study from
# registration to scores in the default suite.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]
WALKTHROUGH = Path(__file__).resolve().parents[3] / "examples" / "api_walkthrough.py"
WALKTHROUGH_TIMEOUT_S = 420
PARTICIPANTS = 3
TARGETS = 4  # two per category


def test_the_api_walkthrough_goes_from_a_weights_file_to_scores(live_server, researcher, settings):
    # As deployed (a web process without torch): registration answers 202 and the walkthrough polls
    # the model while the worker inspects it.
    settings.IRIS_INSPECT_ON_WORKER = True
    token = Token.objects.create(user=researcher)

    with celery_worker() as worker:
        run = subprocess.run(
            [sys.executable, str(WALKTHROUGH), "--base-url", live_server.url, "--token", token.key,
             "--name", "ci", "--iterations", "20", "--targets-per-category", str(TARGETS // 2),
             "--participants", str(PARTICIPANTS)],
            capture_output=True, text=True, timeout=WALKTHROUGH_TIMEOUT_S, check=False)
        log = worker_log(worker)
    print(run.stdout)  # the steps and their times, for the record (pytest -rP shows them)

    assert run.returncode == 0, f"{run.stdout}\n{run.stderr}\nworker:\n{log}"
    study = Study.objects.get(owner=researcher, name="ci-study")
    assert study.status == StudyStatus.CLOSED
    assert [job.status for job in study.jobs.all()] == [JobStatus.DONE]
    assert study.items.count() == TARGETS
    completed = study.participants.filter(status=ParticipantStatus.COMPLETED, is_pilot=False)
    assert completed.count() == PARTICIPANTS
    main = Response.objects.filter(trial__participant__study=study, trial__kind=TrialKind.MAIN)
    assert main.count() == PARTICIPANTS * TARGETS
    checks = Response.objects.filter(trial__participant__study=study).exclude(trial__kind=TrialKind.MAIN)
    assert set(checks.values_list("correct", flat=True)) == {True}  # the scripted participants are attentive
    [score] = study_scores(study=study)
    assert score.participants == PARTICIPANTS
    assert "responses.csv: " in run.stdout
    assert re.search(r"model \d+: inspecting \(HTTP 202\)\n", run.stdout)  # then polled it until ready
    draft = Study.objects.get(owner=researcher, name="ci-study (copy)")
    assert (draft.status, draft.items.count(), draft.participants.count()) == (StudyStatus.CLOSED, TARGETS, 0)
    assert f"version 1: {PARTICIPANTS} participant(s) shown it" in run.stdout
