"""make deploy-check's driver: uses the running compose stack from outside, as an operator, a researcher
and participants would, then injects faults and checks that nothing acknowledged is lost or doubled.

docker/check/run.sh builds and starts the stack and tears it down; this only talks to it: HTTP through
the front server (the REST API with a token, admin forms, participant pages in Debian's Chromium), and
`docker` for what an operator does by hand (manage.py commands, killing and restarting containers).
Reads go through psql in the postgres container only to count what is stored.
"""

import csv
import io
import json
import os
import random
import re
import shlex
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image
from playwright.sync_api import sync_playwright

COMPOSE = shlex.split(os.environ["IRIS_COMPOSE"])
BASE_URL = os.environ.get("IRIS_CHECK_URL", "http://127.0.0.1:23080")
PASSWORD = "deploy-check-operator-pw"
# Debian's Chromium, as the suite drives it (tests/surveys/browser.py, which needs Django set up).
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-sync",
                 "--disable-background-networking", "--disable-component-update"]
RESULTS: dict = {}


def log(message: str) -> None:
    print(f"[deploy-check {time.strftime('%H:%M:%S')}] {message}", flush=True)


def compose(*args: str, env: dict | None = None) -> str:
    done = subprocess.run([*COMPOSE, *args], check=False, capture_output=True, text=True, env={**os.environ, **(env or {})})
    if done.returncode:
        raise RuntimeError(f"{' '.join(args)} failed ({done.returncode}):\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    return done.stdout


def manage(*args: str, env: dict | None = None) -> str:
    flags = [arg for name, value in (env or {}).items() for arg in ("-e", f"{name}={value}")]
    return compose("exec", "-T", *flags, "web", "python", "manage.py", *args)


def sql(query: str) -> list[list[str]]:
    out = compose("exec", "-T", "postgres", "psql", "-U", "iris", "-d", "iris", "-At", "-F", "\t", "-c", query)
    return [line.split("\t") for line in out.splitlines() if line]


def container(service: str) -> str:
    return compose("ps", "-q", service).strip()


def wait_for(what: str, probe, *, timeout_s: float, every_s: float = 1.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(every_s)
    raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")


# --- the operator and the researcher ------------------------------------------------------------------

def operator_token() -> str:
    manage("createsuperuser", "--noinput", "--username", "operator", "--email", "operator@example.org",
           env={"DJANGO_SUPERUSER_PASSWORD": PASSWORD})
    return re.search(r"Generated token (\w+)", manage("drf_create_token", "operator")).group(1)


def register_model(api, *, name: str, weights: bool = True) -> tuple[dict, float]:
    """POST /api/models/ with the demo network's checkpoint (45 MB), or with none (seeded random weights,
    still inspected by the inspect worker), then poll the model until that worker has made it ready;
    answers the model and how long the request and the inspection took."""
    from iri_engine.demo import write_demo_checkpoint  # lazy: loads torch, needed by this step only

    with tempfile.TemporaryDirectory() as scratch:
        spec = write_demo_checkpoint(Path(scratch) / "demo.pt")
        checkpoint = Path(spec.weights_path).read_bytes()
    fields = {"name": name, "architecture": spec.architecture, "input_size": spec.input_size,
              "num_classes": spec.num_classes, "mean": list(spec.mean), "std": list(spec.std)}
    started = time.monotonic()
    if weights:
        form = {k: str(v) for k, v in fields.items() if not isinstance(v, list)}
        form |= {f"{k}[{i}]": str(x) for k in ("mean", "std") for i, x in enumerate(fields[k])}
        form["weights"] = {"name": "demo.pt", "mimeType": "application/octet-stream", "buffer": checkpoint}
        answer = api.post("/api/models/", multipart=form, timeout=120_000)
    else:
        answer = api.post("/api/models/", data=fields, timeout=120_000)
    # The web image has no torch: the model is saved "inspecting" and the inspect worker reads it next.
    assert answer.status == 202, f"{answer.status} {answer.text()[:500]}"
    location = answer.headers["location"]

    def inspected() -> dict | None:
        model = api.get(location)
        assert model.ok, f"{model.status} {model.text()[:500]}"
        return None if model.json()["status"] == "inspecting" else model.json()

    model = wait_for(f"the inspection of model {name!r}", inspected, timeout_s=300)
    assert model["status"] == "ready", model
    return model, time.monotonic() - started


def targets_zip(count: int) -> bytes:
    """PNG targets in two category folders (the upload form takes a zip whose folders name categories)."""
    buffer = io.BytesIO()
    rng = random.Random(count)
    with zipfile.ZipFile(buffer, "w") as archive:
        for index in range(count):
            image = Image.new("RGB", (64, 64), tuple(rng.randrange(30, 226) for _ in range(3)))
            png = io.BytesIO()
            image.save(png, format="PNG")
            archive.writestr(f"{('warm', 'cool')[index % 2]}/target-{index}.png", png.getvalue())
    return buffer.getvalue()


def admin_session(playwright):
    session = playwright.request.new_context(base_url=BASE_URL)
    session.get("/admin/login/")
    answer = session.post("/admin/login/?next=/admin/", form={
        "csrfmiddlewaretoken": csrf(session), "username": "operator", "password": PASSWORD, "next": "/admin/"})
    assert answer.url.endswith("/admin/"), f"admin login failed: {answer.url}"
    return session


def csrf(session) -> str:
    return next(c["value"] for c in session.storage_state()["cookies"] if c["name"] == "csrftoken")


def upload_targets(admin, *, name: str, count: int) -> int:
    """Through the admin's upload form, as a researcher would. (There is no target-set API yet; once
    there is one, the check should use it.)"""
    admin.get("/admin/generation/targetset/add/")
    answer = admin.post("/admin/generation/targetset/add/", multipart={
        "csrfmiddlewaretoken": csrf(admin), "name": name,
        "files": {"name": f"{name}.zip", "mimeType": "application/zip", "buffer": targets_zip(count)}})
    found = re.search(r'/admin/generation/targetset/(\d+)/change/">' + re.escape(name), answer.text())
    assert answer.ok and found, f"target upload failed: {answer.status} {answer.text()[-800:]}"
    return int(found.group(1))


def submit_job(api, *, model: int, target_set: int, iterations: int) -> int:
    answer = api.post("/api/jobs/", data={"model": model, "target_set": target_set,
                                          "config": {"layers": ["layer2"], "iterations": iterations}})
    assert answer.status == 201, f"{answer.status} {answer.text()[:500]}"
    return answer.json()["id"]


def wait_for_job(api, job_id: int, *, timeout_s: float) -> dict:
    def finished():
        job = api.get(f"/api/jobs/{job_id}/").json()
        return job if job["status"] in ("done", "failed", "cancelled") else None

    job = wait_for(f"job {job_id}", finished, timeout_s=timeout_s, every_s=2)
    assert job["status"] == "done", f"job {job_id} ended {job['status']}: {job['error']}"
    return job


def create_study(api, job_id: int) -> tuple[int, str]:
    """A 2AFC study of the job's IRIs, made and opened over the API. The check's jobs are a few dozen
    steps, too short to meet the IRI criterion, so the study surveys their IRIs anyway
    (include_failing); its scripted participants answer at random, so the design leaves out the
    practice, gate and catch trials that random answers would fail (a published study keeps them)."""
    design = {"practice": False, "gate": None, "catch_every": 0}
    made = api.post("/api/studies/", data={"name": f"check-study-{job_id}-{time.monotonic_ns()}", "jobs": [job_id],
                                           "paradigm": "2afc", "design": design, "include_failing": True})
    assert made.status == 201, f"{made.status} {made.text()[:500]}"
    study = made.json()
    opened = api.post(f"/api/studies/{study['id']}/open/")
    assert opened.ok, f"{opened.status} {opened.text()[:500]}"
    return study["id"], f"/s/{study['public_id']}/"


def stored_once(job_id: int, *, expected: int) -> dict:
    [[rows, distinct]] = sql(f"SELECT count(*), count(DISTINCT (target_id, layer)) FROM generation_stimulus "
                             f"WHERE job_id = {job_id}")
    # Stored names say nothing of the job (stimuli/<32 hex>.png): the rows name the files to look for.
    names = [name for row in sql(f"SELECT target_png, seed_png, iri_png FROM generation_stimulus WHERE job_id = {job_id}")
             for name in row if name]
    keys = compose("exec", "-T", "minio", "python", "-c",
                   "import boto3; s3 = boto3.client('s3', endpoint_url='http://127.0.0.1:9000', region_name='us-east-1');"
                   "stored = set(o['Key'] for p in s3.get_paginator('list_objects_v2').paginate(Bucket='iris', Prefix='stimuli/')"
                   " for o in p.get('Contents', []));"
                   f"print(len(stored & set({sorted(set(names))!r})))")
    result = {"expected": expected, "rows": int(rows), "distinct": int(distinct), "s3_files": int(keys)}
    assert result["rows"] == result["distinct"] == expected, result
    return result


# --- participants ------------------------------------------------------------------------------------

# Page functions, not expressions: under the Content-Security-Policy an expression would need eval.
SCREEN = """() => document.querySelector("#completion-code, #outcome, .iris-page h1") ? "end"
    : document.querySelector(".iris-message") ? "message"
    : document.querySelector(".iris-trial[data-shown]") ? "trial" : null"""


@dataclass
class Participant:
    """A scripted participant in Chromium: answers at random, remembers what it answered and what the
    server acknowledged (a 2xx to its POST), to compare with what the study stored."""

    name: str
    seed: int
    answered: dict = field(default_factory=dict)  # trial id -> choice
    acknowledged: list = field(default_factory=list)  # trial ids, one per 2xx answer
    server_errors: int = 0
    images: list = field(default_factory=list)  # (status, content type, X-Accel-Redirect seen) per image
    trial_options: dict = field(default_factory=dict)  # a trial's option image URLs -> its id (trial fetches)

    def watch(self, page) -> None:
        def seen(response):
            posted = response.request.method == "POST" and response.url.endswith("/responses")
            if posted and response.status < 300:
                self.acknowledged.append(json.loads(response.request.post_data)["trial"])
            if response.status >= 500:
                self.server_errors += 1
            if response.request.method == "GET" and response.url.split("?")[0].endswith("/trials") and response.ok:
                self.trial_options.update({tuple(trial["options"]): trial["id"] for trial in response.json()["trials"]})
            if "/img/" in response.url or "/_iris_img/" in response.url:
                headers = response.headers
                self.images.append((response.status, headers.get("content-type"), "x-accel-redirect" in headers))

        page.on("response", seen)

    def take(self, page, link: str, *, wait_ms: int = 200) -> str:
        rng = random.Random(self.seed)
        self.watch(page)
        page.goto(f"{BASE_URL}{link}?PROLIFIC_PID={self.name}&STUDY_ID=deploy-check&SESSION_ID={self.name}")
        page.click("#begin")
        page.click("#agree")
        page.click("#jspsych-instructions-next", timeout=30_000)
        for _ in range(200):
            try:
                page.wait_for_function(f"() => ({SCREEN})() !== null", timeout=60_000)
            except Exception as error:  # say what the participant was looking at
                raise AssertionError(f"{self.name}: no screen it knows after 60 s ({error}); the page says:\n"
                                     f"{page.inner_text('body')[:2000]}") from None
            screen = page.evaluate(SCREEN)
            if screen == "end":
                page.wait_for_selector("#completion-code", timeout=60_000)
                return page.inner_text("#completion-code")
            if screen == "message":
                button = page.query_selector("#jspsych-html-button-response-btngroup button")
                button.click() if button else page.wait_for_timeout(150)
                continue
            # Signed links name the image, not the trial: the trial is the one whose options these are.
            image = page.query_selector(".iris-option img")
            trial = self.trial_options[tuple(page.eval_on_selector_all(
                ".iris-option img", "(images) => images.map((shown) => shown.getAttribute('src'))"))]
            choice = rng.randrange(2)
            page.wait_for_timeout(wait_ms)
            page.click(f".iris-option[data-choice='{choice}']")
            self.answered[trial] = choice
            page.wait_for_function("(shown) => !shown.isConnected", arg=image)
        raise AssertionError(f"{self.name}: the study did not end")


def responses(api, study_id: int) -> list[dict]:
    answer = api.get(f"/api/studies/{study_id}/responses.csv")
    assert answer.ok, answer.status
    return list(csv.DictReader(io.StringIO(answer.text())))


def compare(participant: Participant, rows: list[dict]) -> dict:
    mine = [r for r in rows if r["session"] == participant.name]  # the SESSION_ID it arrived with
    stored = {r["trial_id"]: int(r["choice"]) for r in mine}
    result = {"answered": len(participant.answered), "acknowledged": len(set(participant.acknowledged)),
              "stored": len(mine), "duplicates": len(mine) - len(stored),
              "lost": len(set(participant.acknowledged) - set(stored)), "server_errors_seen": participant.server_errors}
    assert stored == participant.answered, f"{participant.name}: stored answers differ from given ones: {result}"
    assert result["duplicates"] == 0 and result["lost"] == 0, result
    return result


# --- the check ---------------------------------------------------------------------------------------

def check_front(playwright) -> None:
    plain = playwright.request.new_context(base_url=BASE_URL)
    assert plain.get("/healthz").json() == {"status": "ok"}
    static = plain.get("/static/iris/runner.js")
    assert static.ok and static.headers.get("server", "").startswith("nginx"), static.headers
    RESULTS["static_served_by"] = static.headers["server"]
    # Images come by X-Accel-Redirect from nginx's internal location, which no client may ask for.
    RESULTS["internal_image_location_from_outside"] = plain.get("/_iris_media/http/minio:9000/iris/").status
    assert RESULTS["internal_image_location_from_outside"] == 404
    # Signed image links (docker/nginx.conf, "/_iris_img/"): nginx refuses one it did not sign.
    RESULTS["unsigned_image_link"] = plain.get(f"/_iris_img/{'0' * 32}.png?md5=AAAAAAAAAAAAAAAAAAAAAA&expires=9999999999").status
    assert RESULTS["unsigned_image_link"] == 403


def first_study(playwright, api, admin, model_id: int) -> None:
    target_set = upload_targets(admin, name="colours", count=4)
    started = time.monotonic()
    job = submit_job(api, model=model_id, target_set=target_set, iterations=30)
    wait_for_job(api, job, timeout_s=600)
    RESULTS["first_job_s"] = round(time.monotonic() - started, 1)
    RESULTS["first_job_stored"] = stored_once(job, expected=4)
    study_id, link = create_study(api, job)
    log(f"job {job} done in {RESULTS['first_job_s']} s; study {study_id} at {link}")
    browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
    participant = Participant(name="check-p0", seed=0)
    participant.take(browser.new_page(), link)
    browser.close()
    rows = responses(api, study_id)
    RESULTS["participant"] = compare(participant, rows)
    # nginx checked each image's signed link and fetched it from MinIO (docker/nginx.conf): PNGs arrive,
    # and no X-Accel-Redirect (the fallback for a name that cannot be linked) reaches the browser.
    RESULTS["participant_images"] = {
        "served": sum(status == 200 for status, _, _ in participant.images),
        "not_png": sum(kind != "image/png" for status, kind, _ in participant.images if status == 200),
        "redirect_header_seen": sum(leaked for _, _, leaked in participant.images)}
    assert RESULTS["participant_images"]["served"] > 0, participant.images
    assert RESULTS["participant_images"]["not_png"] == RESULTS["participant_images"]["redirect_header_seen"] == 0
    [score] = api.get(f"/api/studies/{study_id}/scores/").json()
    scored = [int(r["chose_target"]) for r in rows if r["scored"] == "1"]
    assert score["score_name"] == "target_share", score
    assert scored and abs(score["score"] - sum(scored) / len(scored)) < 1e-9, (score, scored)
    RESULTS["score"] = {k: score[k] for k in ("score_name", "score", "ci_low", "ci_high")}
    log(f"participant done; score {RESULTS['score']}")


def killed_worker_and_two_hosts(api, model_id: int, target_set: int) -> int:
    """Two worker containers ("hosts") share one job, each running a batch of it at once; then one is
    SIGKILLed mid-batch and restarted, and the job still ends with each IRI stored once."""
    job = submit_job(api, model=model_id, target_set=target_set, iterations=150)
    running = f"SELECT id, claimed_by FROM generation_generationbatch WHERE job_id = {job} AND status = 'running'"

    def both_hosts_running() -> str | None:
        rows = sql(running + " AND steps_done > 0")
        by_host = {claimed_by.split(":")[0]: batch for batch, claimed_by in rows}
        return by_host["host-a"] if {"host-a", "host-b"} <= set(by_host) else None

    victim_batch = wait_for("a batch running on each host", both_hosts_running, timeout_s=300, every_s=0.5)
    compose("kill", "-s", "SIGKILL", "worker-host-a")
    log(f"SIGKILLed worker-host-a during batch {victim_batch}")
    model, seconds = register_model(api, name="registered-while-a-host-is-down", weights=False)
    RESULTS["registration_during_job_s"] = round(seconds, 1)
    compose("start", "worker-host-a")
    wait_for_job(api, job, timeout_s=1500)
    [[attempts]] = sql(f"SELECT attempts FROM generation_generationbatch WHERE id = {victim_batch}")
    [[targets]] = sql(f"SELECT count(*) FROM generation_targetimage WHERE target_set_id = {target_set}")
    RESULTS["kill"] = {"job": job, "killed_batch": int(victim_batch), "killed_batch_attempts": int(attempts),
                       **stored_once(job, expected=int(targets))}
    assert int(attempts) >= 2, RESULTS["kill"]
    log(f"killed-worker job: {RESULTS['kill']}")
    return job


def postgres_restart_under_traffic(api, admin, job: int) -> None:
    """Two participants answer while the PostgreSQL container restarts; the runner's outbox retries."""
    study_id, link = create_study(api, job)
    people = [Participant(name=f"check-p{i}", seed=i) for i in (1, 2)]
    failures = []

    def take(person: Participant) -> None:
        # Playwright's sync API belongs to one thread: each participant has its own.
        with sync_playwright() as own:
            browser = own.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            try:
                person.take(browser.new_page(), link, wait_ms=1500)
            except Exception as error:  # reported below, with the participant's name
                failures.append(f"{person.name}: {error}")
            finally:
                browser.close()

    threads = [threading.Thread(target=take, args=(person,)) for person in people]
    for thread in threads:
        thread.start()
    wait_for("participants answering", lambda: all(len(p.acknowledged) >= 2 for p in people) or failures,
             timeout_s=180, every_s=0.2)
    started = time.monotonic()
    compose("restart", "postgres")
    RESULTS["postgres_restart_s"] = round(time.monotonic() - started, 1)
    log(f"restarted postgres in {RESULTS['postgres_restart_s']} s while participants answered")
    for thread in threads:
        thread.join(timeout=600)
    assert not failures, failures
    rows = responses(api, study_id)
    RESULTS["postgres_restart"] = {p.name: compare(p, rows) for p in people}
    log(f"postgres restart: {RESULTS['postgres_restart']}")


def main() -> None:
    with sync_playwright() as playwright:
        check_front(playwright)
        token = operator_token()
        api = playwright.request.new_context(base_url=BASE_URL, extra_http_headers={"Authorization": f"Token {token}"})
        admin = admin_session(playwright)
        model, seconds = register_model(api, name="demo")
        RESULTS["registration_s"] = round(seconds, 1)
        log(f"registered model {model['id']} over the API in {seconds:.1f} s ({len(model['layer_names'])} layers)")
        first_study(playwright, api, admin, model["id"])
        target_set = upload_targets(admin, name="shared", count=8)
        job = killed_worker_and_two_hosts(api, model["id"], target_set)
        postgres_restart_under_traffic(api, admin, job)
    web_log = compose("logs", "--no-color", "web")
    RESULTS["static_requests_in_web_log"] = web_log.count("GET /static/")
    assert RESULTS["static_requests_in_web_log"] == 0
    print("DEPLOY-CHECK RESULTS " + json.dumps(RESULTS, sort_keys=True), flush=True)


if __name__ == "__main__":
    sys.exit(main())
