"""The README's "Using it", clicked in Chromium by a new researcher, through admin pages only, on the
real stack (PostgreSQL, Redis, a celery worker): sign in, register a model with a weights file, upload
a zip of targets, submit a job and watch it finish, create a study of each paradigm, take each as a
participant, read the results page and download the CSV.

Each step's duration is printed at the end (``pytest -rP`` shows it, and a failure shows it too).
"""

import contextlib
import csv
import time
import zipfile
from urllib.parse import urlparse

import pytest

from iri_engine.controls import weights_directory
from surveys.studies.models import Study
from surveys.studies.paradigms import RATING_MAX, RATING_MIDPOINT, RATING_MIN, Paradigm
from surveys.trials.models import ParticipantStatus, Response
from tests.surveys import factories
from tests.surveys.browser import celery_worker, fresh_contexts, worker_log
from tests.surveys.trials.scripted import Script, enter, run_through

# slow (make test-slow): the whole journey takes two minutes; test_end_to_end.py and the admin and
# browser tests check its parts in the default suite.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser, pytest.mark.slow]
PASSWORD = "pw-for-tests-only"  # the researcher persona's (tests/surveys/factories.py)
JOB_TIMEOUT_MS = 240_000
TARGETS = {"warm/red.png": (220, 30, 30), "warm/orange.png": (240, 140, 20),
           "cool/blue.png": (30, 40, 220), "cool/teal.png": (20, 180, 170)}


class Stopwatch:
    """How long each step of the journey took, printed as a table."""

    def __init__(self):
        self.steps: list[tuple[str, float]] = []

    @contextlib.contextmanager
    def step(self, name: str):
        started = time.monotonic()
        try:
            yield
        finally:
            self.steps.append((name, time.monotonic() - started))

    def report(self) -> str:
        lines = [f"{seconds:7.1f} s  {name}" for name, seconds in self.steps]
        return "\n".join(["Researcher journey, step by step:", *lines,
                          f"{sum(s for _, s in self.steps):7.1f} s  in all"])


def targets_zip(tmp_path) -> str:
    path = tmp_path / "targets.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for name, colour in TARGETS.items():
            archive.writestr(name, factories.png_bytes(colour, size=48))
    return str(path)


def save_and_confirm(page) -> str:
    """Press admin's Save and return the success message (a refusal shows the form's errors instead)."""
    page.click("input[name=_save]")
    message = page.wait_for_selector(".messagelist .success, .errornote, .errorlist", timeout=60_000)
    assert "success" in (message.get_attribute("class") or ""), page.inner_text("#content")
    return message.inner_text()


def sign_in(page, base: str) -> None:
    page.goto(f"{base}/admin/login/?next=/admin/")
    page.fill("#id_username", "researcher")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_selector("#site-name")


def register_model(page, base: str) -> None:
    page.goto(f"{base}/admin/generation/registeredmodel/add/")
    page.fill("#id_name", "digits-standard")
    page.fill("#id_architecture", "installed:iris_digits_resnet")
    page.set_input_files("#id_weights", str(weights_directory() / "standard.safetensors"))
    page.fill("#id_input_size", "32")
    page.fill("#id_mean_text", "0.3, 0.3, 0.3")
    page.fill("#id_std_text", "0.32, 0.32, 0.32")
    page.fill("#id_num_classes", "10")
    assert "was added successfully" in save_and_confirm(page)


def upload_targets(page, base: str, zip_path: str) -> None:
    page.goto(f"{base}/admin/generation/targetset/add/")
    page.fill("#id_name", "colours")
    page.set_input_files("#id_files", zip_path)
    assert "was added successfully" in save_and_confirm(page)


# The job page's progress bar (static/iris/admin-progress.js) says how the job ended once it has.
# A function, not an expression: under the Content-Security-Policy a string would need eval.
JOB_ENDED = "() => /· (done|failed|cancelled)$/.test(document.querySelector('.iris-progress span').textContent)"


def generate(page, base: str, worker) -> None:
    """Submit the job on admin's form, then watch its progress bar until it says done."""
    page.goto(f"{base}/admin/generation/generationjob/add/")
    page.select_option("#id_layers", label="layer2")
    page.select_option("#id_target_set", label="colours")
    page.fill("#id_iterations", "20")
    page.click("input[type=submit][value='Submit job']")
    assert "is queued" in page.inner_text(".messagelist")
    try:
        page.wait_for_function(JOB_ENDED, timeout=JOB_TIMEOUT_MS)
    except Exception:
        raise AssertionError(f"{page.inner_text('#content')}\nworker:\n{worker_log(worker)}") from None
    progress = page.inner_text(".iris-progress span")
    assert progress.startswith(f"100% · {len(TARGETS)} IRIs") and progress.endswith("· done"), worker_log(worker)


def create_study(page, base: str, paradigm: str) -> str:
    """Studies -> Add with the form's defaults; returns the participant link shown on the study's page."""
    page.goto(f"{base}/admin/studies/study/add/")
    page.fill("#id_name", f"{paradigm} study")
    page.select_option("#id_jobs", index=0)
    page.select_option("#id_paradigm", paradigm)
    # The journey's job is 20 steps, too short to meet the IRI criterion; the researcher chooses to
    # survey its images anyway (a published study would run the job longer and leave this unticked).
    page.check("#id_include_failing_iris")
    assert "was added successfully" in save_and_confirm(page)
    page.click(f"text={paradigm} study")
    return page.get_attribute(".field-link a", "href")


def attentive(trial, *, rated: bool) -> int:
    """A participant who gets every check right: the right option or category, or the anchor's rating;
    on similarity's main trials, the midpoint."""
    layout = trial.layout_spec
    if rated:
        return {"identical": RATING_MAX, "unrelated": RATING_MIN}.get(layout.anchor, round(RATING_MIDPOINT))
    return layout.answer


def take_part(browser, base: str, link: str, paradigm: str) -> str:
    """Follow the participant link in a browser of its own; returns the completion code shown."""
    context = browser.new_context()
    try:
        page = context.new_page()
        # A person's pace, so that no response-time rule a study's defaults may hold excludes them.
        script = Script(decide=lambda trial: attentive(trial, rated=paradigm == Paradigm.SIMILARITY), wait_ms=300)
        script.watch(page)
        enter(page, base + urlparse(link).path)
        run_through(page, script)
        assert script.script_errors() == []
        return page.inner_text("#completion-code")
    finally:
        context.close()


def read_results(page, study: Study) -> list[dict]:
    """The results page from the study's admin page (one participant, scored as they answered), then
    its responses CSV, downloaded."""
    page.click("text=Results, plots and exports")
    page.wait_for_selector("#scores tr[data-condition]")
    assert page.inner_text("#scores tr[data-condition] td:nth-child(2)").split() == ["1", "/", "1"]
    # Every answer right (the target, the right category), or the scale's midpoint on each pair.
    expected = f"{RATING_MIDPOINT:.3f}" if study.paradigm == Paradigm.SIMILARITY else "1.000"
    assert page.inner_text("#scores tr[data-condition] td.score").startswith(expected)
    with page.expect_download() as download:
        page.click("text=Responses (CSV")
    with open(download.value.path(), encoding="utf-8") as exported:
        return list(csv.DictReader(exported))


def test_a_new_researcher_goes_from_a_weights_file_to_results_in_admin(live_server, researcher, tmp_path, shared_chromium):
    base, watch = live_server.url, Stopwatch()
    try:
        with celery_worker() as worker, fresh_contexts(shared_chromium) as browser:
            page = browser.new_page()
            with watch.step("sign in"):
                sign_in(page, base)
            with watch.step("register a model with its weights file (inspected)"):
                register_model(page, base)
            with watch.step("upload a zip of targets"):
                upload_targets(page, base, targets_zip(tmp_path))
            with watch.step("submit a job and watch it finish (celery worker)"):
                generate(page, base, worker)
            for paradigm in Paradigm.values:
                with watch.step(f"{paradigm}: create the study"):
                    link = create_study(page, base, paradigm)
                study = Study.objects.get(owner=researcher, name=f"{paradigm} study")
                with watch.step(f"{paradigm}: take it as a participant"):
                    code = take_part(browser, base, link, paradigm)
                assert code == study.completion_code
                with watch.step(f"{paradigm}: read the results page and download the CSV"):
                    rows = read_results(page, study)
                participant = study.participants.get()
                assert participant.status == ParticipantStatus.COMPLETED
                assert len(rows) == Response.objects.filter(trial__participant=participant).count()
                assert {row["participant_id"] for row in rows} == {str(participant.pk)}
    finally:
        print(watch.report())
