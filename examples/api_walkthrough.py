"""The researcher's whole journey over the REST API, against a live IRIS server.

    python examples/api_walkthrough.py --base-url http://127.0.0.1:8000 --token <API token>

(a token: admin -> Tokens -> Add, for a staff researcher). Only `requests` and the standard library
are needed. The script:

 1. registers a model with a weights file (a committed control network, a 300 kB safetensors file
    in iri_engine/controls/weights/: "standard" unless --weights names another); where a worker
    inspects the checkpoint after the request (the answer is 202), polls the model until it is ready;
 2. uploads a zip of targets it draws itself (its folders name the categories);
 3. submits a generation job and polls it until it has finished;
 4. reads the job's IRIs with their metrics, and one IRI's PNG;
 5. creates a 2AFC study of the job, with practice, a gate and catch trials, and opens it;
 6. takes it as a few participants over the participant endpoints, speaking the JSON protocol the
    participant page's runner (static/iris/runner.js) speaks: start, consent, device check, fetch
    trials, post each answer with an idempotency key, finish;
 7. closes the study and reads the participants, each one's exclusion decision, the scores and the
    responses CSV;
 8. clones the study into a new draft for a follow-up (same design, texts and rules, no participants)
    and reads the versions of the original that its participants were shown.

Each step prints what it made and how long it took. Exit status 0 means the journey went through;
anything refused stops it with the server's message.
"""

import argparse
import io
import json
import random
import re
import struct
import sys
import time
import zipfile
import zlib
from pathlib import Path

import requests

REPOSITORY = Path(__file__).resolve().parents[1]
CONTROL_WEIGHTS = REPOSITORY / "iri_engine" / "controls" / "weights" / "standard.safetensors"
# How the control networks are registered (iri_engine/controls: 32 x 32 digits, 10 classes).
CONTROL_MODEL = {"architecture": "installed:iris_digits_resnet", "input_size": 32, "mean": [0.3] * 3,
                 "std": [0.32] * 3, "num_classes": 10}
FINISHED = ("done", "failed", "cancelled")
REQUEST_TIMEOUT_S = 120  # without an inspect worker, a registration inspects the checkpoint while the request waits


class Refused(SystemExit):
    """The server said no: the walkthrough stops with its answer."""


# --- the researcher's client ---------------------------------------------------------------------

class Api:
    """The REST API under <base>/api/, with token authentication; a refusal stops the walkthrough."""

    def __init__(self, base_url: str, token: str):
        self.base = base_url.rstrip("/")
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Token {token}"

    def call(self, method: str, path: str, *, expect: int | tuple[int, ...] = 200, **kwargs) -> requests.Response:
        url = path if path.startswith("http") else f"{self.base}/api/{path.lstrip('/')}"
        response = self.http.request(method, url, timeout=REQUEST_TIMEOUT_S, **kwargs)
        if response.status_code not in (expect if isinstance(expect, tuple) else (expect,)):
            raise Refused(f"{method} {url} answered {response.status_code}: {response.text[:2000]}")
        return response

    def get(self, path: str, **kwargs) -> dict | list:
        return self.call("GET", path, **kwargs).json()

    def post(self, path: str, *, expect: int = 201, **kwargs) -> dict:
        return self.call("POST", path, expect=expect, **kwargs).json()


# --- targets drawn here: small PNGs, written with the standard library only ----------------------

def png(width: int, height: int, pixel) -> bytes:
    """An RGB PNG whose pixel (x, y) is ``pixel(x, y)`` -> (r, g, b)."""
    rows = b"".join(b"\x00" + bytes(channel for x in range(width) for channel in pixel(x, y))
                    for y in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def targets_zip(per_category: int, size: int = 48) -> bytes:
    """Stripes and rings in two folders ("stripes/", "rings/"), each image of its own colour and frequency."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for n in range(per_category):
            colour = (60 + 60 * n % 196, 200 - 40 * n % 180, 40 + 90 * n % 200)
            period = 4 + 2 * n

            def stripes(x, y, colour=colour, period=period):
                return colour if (x // period) % 2 else (20, 20, 20)

            def rings(x, y, colour=colour, period=period):
                return colour if int(((x - size / 2) ** 2 + (y - size / 2) ** 2) ** 0.5) // period % 2 else (240,) * 3

            archive.writestr(f"stripes/stripes-{n}.png", png(size, size, stripes))
            archive.writestr(f"rings/rings-{n}.png", png(size, size, rings))
    return buffer.getvalue()


# --- a participant, speaking the runner's protocol -----------------------------------------------

class Participant:
    """One browser session: a cookie jar and the CSRF token the participant pages expect."""

    def __init__(self, base_url: str, rng: random.Random):
        self.base = base_url.rstrip("/")
        self.http = requests.Session()
        self.rng = rng
        self.page = ""

    def url(self, path: str) -> str:
        return path if path.startswith("http") else self.base + path

    def post(self, path: str, **kwargs) -> requests.Response:
        headers = {"X-CSRFToken": self.http.cookies.get("csrftoken", "")}
        response = self.http.post(self.url(path), headers=headers, timeout=REQUEST_TIMEOUT_S, **kwargs)
        if response.status_code >= 400:
            raise Refused(f"POST {path} answered {response.status_code}: {response.text[:500]}")
        return response

    def enter(self, link: str, pid: str) -> None:
        """The recruitment link, its start button, then consent: the session's page is the runner."""
        self.http.get(link, timeout=REQUEST_TIMEOUT_S).raise_for_status()  # sets the CSRF cookie
        token = self.http.cookies["csrftoken"]
        started = self.post(link, data={"csrfmiddlewaretoken": token, "PROLIFIC_PID": pid,
                                        "STUDY_ID": "walkthrough", "SESSION_ID": f"session-{pid}"})
        self.page = started.url  # /p/<token>/, the consent page
        self.post(f"{self.page}consent", data={"csrfmiddlewaretoken": token, "agree": "yes"})
        self.post(f"{self.page}device", json={"compatible": True, "data": {"width": 1280, "height": 800}})

    def take(self) -> str:
        """Answer every trial the server hands out, finish, and return the completion code shown."""
        while trials := self.next_trials():
            for trial in trials:
                self.post(f"{self.page}responses", json={"trial": trial["id"], "idempotency_key": trial["id"],
                                                         "rt_ms": round(self.rng.uniform(450, 1500), 1),
                                                         "client_data": {"source": "api_walkthrough"},
                                                         **self.answer(trial)})
        finished = self.post(f"{self.page}finish").json()
        done = self.http.get(self.url(finished["next"]), timeout=REQUEST_TIMEOUT_S).text
        code = re.search(r'id="completion-code"[^>]*>\s*([^<\s]+)', done)
        return code.group(1) if code else "(no code shown)"

    def next_trials(self) -> list[dict]:
        response = self.http.get(f"{self.page}trials", params={"n": 5}, timeout=REQUEST_TIMEOUT_S)
        if response.status_code == 409:  # the session ended early (a failed gate): nothing more to answer
            return []
        response.raise_for_status()
        return response.json()["trials"]

    def answer(self, trial: dict) -> dict:
        """An attentive participant: where the query is one of the options (practice, gate and catch
        trials), they pick it; identical images get the top rating; otherwise they choose at random."""
        if trial["presentation"] == "rating":
            left, right = (self.image(url) for url in trial["options"])
            return {"rating": 7 if left == right else self.rng.randint(1, 7)}
        if trial["labels"]:
            return {"choice": self.rng.randrange(len(trial["labels"]))}
        options = [self.image(url) for url in trial["options"]]
        query = self.image(trial["query"])
        same = [index for index, image in enumerate(options) if image == query]
        return {"choice": same[0] if same else self.rng.randrange(len(options))}

    def image(self, path: str) -> bytes:
        response = self.http.get(self.url(path), timeout=REQUEST_TIMEOUT_S)
        response.raise_for_status()
        return response.content


# --- the journey ---------------------------------------------------------------------------------

def step(title: str):
    """Print the step's title, run it, and print how long it took."""
    def run(function):
        print(f"== {title}", flush=True)
        started = time.monotonic()
        result = function()
        print(f"   ({time.monotonic() - started:.1f} s)", flush=True)
        return result
    return run


def register_model(api: Api, args) -> dict:
    fields = {**CONTROL_MODEL, "name": f"{args.name}-model"}
    with open(args.weights, "rb") as weights:
        # 201: inspected in the request, ready; 202: saved "inspecting", a worker inspects it next.
        answer = api.call("POST", "models/", expect=(201, 202), data=fields,
                          files={"weights": (Path(args.weights).name, weights)})
    model = answer.json()
    print(f"   model {model['id']}: {model['status']} (HTTP {answer.status_code})", flush=True)
    deadline = time.monotonic() + args.inspection_timeout
    while model["status"] == "inspecting":
        if time.monotonic() > deadline:
            raise Refused(f"model {model['id']} still inspecting after {args.inspection_timeout} s: "
                          "is a worker on the inspect queue running?")
        time.sleep(1)
        model = api.get(answer.headers["Location"])
    if model["status"] != "ready":
        raise Refused(f"model {model['id']} was refused: {model['error']}")
    print(f"   model {model['id']}: ready, {len(model['layer_names'])} layers, "
          f"sha256 {model['checkpoint_sha256'][:12]}…")
    return model


def upload_targets(api: Api, args) -> dict:
    archive = targets_zip(args.targets_per_category)
    target_set = api.post("target-sets/", data={"name": f"{args.name}-targets"},
                          files={"files": ("targets.zip", archive, "application/zip")})
    categories = sorted({image["category"] for image in target_set["images"]})
    print(f"   target set {target_set['id']}: {target_set['image_count']} images in {', '.join(categories)}")
    return target_set


def generate(api: Api, args, model: dict, target_set: dict) -> dict:
    job = api.post("jobs/", json={"model": model["id"], "target_set": target_set["id"],
                                  "config": {"layers": [args.layer], "iterations": args.iterations}})
    deadline = time.monotonic() + args.job_timeout
    while job["status"] not in FINISHED:
        if time.monotonic() > deadline:
            raise Refused(f"job {job['id']} still {job['status']} after {args.job_timeout} s")
        time.sleep(1)
        job = api.get(f"jobs/{job['id']}/")
        progress = job["progress"]
        print(f"   job {job['id']}: {job['status']}, {progress['steps_done']}/{progress['steps_total']} steps, "
              f"{progress['iris']} IRIs", flush=True)
    if job["status"] != "done":
        raise Refused(f"job {job['id']} {job['status']}: {job['error']}")
    return job


def read_iris(api: Api, job: dict) -> list[dict]:
    stimuli = api.get(f"jobs/{job['id']}/stimuli/")
    for stimulus in stimuli:
        print(f"   IRI {stimulus['id']} of {stimulus['target']} at {stimulus['layer']}: "
              f"L_rep {stimulus['final_rep_loss']:.4g}, {stimulus['wall_seconds']:.1f} s")
    image = api.call("GET", stimuli[0]["images"]["iri"]).content
    print(f"   IRI {stimuli[0]['id']}'s PNG: {len(image)} bytes")
    return stimuli


def make_study(api: Api, args, job: dict) -> dict:
    design = {"practice": True, "practice_trials": 2, "gate": {"trials": 2, "pass": 2}, "catch_every": 4}
    # A walkthrough's job is a few steps long, too short to meet the IRI criterion (docs/engine/
    # option-criterion.md); a real study leaves include_failing out and surveys only passing IRIs.
    # "language": the participant pages' ("en" or "de"); the study's first texts are written in it.
    study = api.post("studies/", json={"name": f"{args.name}-study", "jobs": [job["id"]], "paradigm": "2afc",
                                       "design": design, "include_failing": True, "language": "en"})
    study = api.post(f"studies/{study['id']}/open/", expect=200)
    print(f"   study {study['id']} ({study['paradigm']}, {study['language']}, {study['status']}): "
          f"{study['participant_link']}")
    return study


def take_part(args, study: dict) -> None:
    link = f"{args.base_url.rstrip('/')}/s/{study['public_id']}/"
    for number in range(args.participants):
        participant = Participant(args.base_url, random.Random(number))
        participant.enter(link, pid=f"{args.name}-p{number}")
        code = participant.take()
        print(f"   participant {number}: completion code {code}")
        if code != study["completion_code"]:
            raise Refused(f"participant {number} was shown {code}, not the study's code")


def read_results(api: Api, study: dict) -> None:
    api.post(f"studies/{study['id']}/close/", expect=200)
    participants = api.get(f"studies/{study['id']}/participants/")
    print(f"   {len(participants)} participants: {', '.join(p['status'] for p in participants)}")
    for decision in api.get(f"studies/{study['id']}/exclusions/"):
        print(f"   {decision['recruitment_id']}: {'excluded' if decision['excluded'] else 'included'} "
              f"{decision['reason']}".rstrip())
    for score in api.get(f"studies/{study['id']}/scores/"):
        numbers = {key: value for key, value in score.items() if key not in ("condition_id", "label", "job_id", "layer")}
        print(f"   {score['label']}: {json.dumps(numbers)}")
    csv = api.call("GET", f"studies/{study['id']}/responses.csv").text
    print(f"   responses.csv: {len(csv.splitlines()) - 1} rows; header {csv.splitlines()[0][:100]}…")


def clone_study(api: Api, study: dict) -> dict:
    draft = api.post(f"studies/{study['id']}/clone/")
    print(f"   study {draft['id']} ({draft['status']}, {len(draft['conditions'])} condition(s)): "
          f"a draft of study {study['id']}, to open when ready")
    for version in api.get(f"studies/{study['id']}/versions/"):
        print(f"   study {study['id']} version {version['number']}: {version['participants']} participant(s) shown it")
    return draft


def main(argv: list[str] | None = None) -> int:
    args = arguments().parse_args(argv)
    api = Api(args.base_url, args.token)
    model = step("Register a model with its weights")(lambda: register_model(api, args))
    target_set = step("Upload a zip of targets")(lambda: upload_targets(api, args))
    job = step("Generate IRIs and wait for the job")(lambda: generate(api, args, model, target_set))
    step("Read the IRIs and their metrics")(lambda: read_iris(api, job))
    study = step("Create a 2AFC study and open it")(lambda: make_study(api, args, job))
    step(f"Take it as {args.participants} participants")(lambda: take_part(args, study))
    step("Close it and read the results")(lambda: read_results(api, study))
    step("Clone it into a new draft")(lambda: clone_study(api, study))
    print("The walkthrough went through.")
    return 0


def arguments() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base-url", required=True, help="the server, e.g. http://127.0.0.1:8000")
    parser.add_argument("--token", required=True, help="a staff researcher's API token (admin -> Tokens)")
    parser.add_argument("--name", default=f"walkthrough-{int(time.time())}", help="prefix of what is made")
    parser.add_argument("--weights", default=str(CONTROL_WEIGHTS),
                        help="one of the control networks' safetensors files (iri_engine/controls/weights/)")
    parser.add_argument("--layer", default="layer2")
    parser.add_argument("--iterations", type=int, default=50)
    parser.add_argument("--targets-per-category", type=int, default=3)
    parser.add_argument("--participants", type=int, default=3)
    parser.add_argument("--job-timeout", type=float, default=600, help="seconds to wait for the job")
    parser.add_argument("--inspection-timeout", type=float, default=300,
                        help="seconds to wait for a worker to inspect the model")
    return parser


if __name__ == "__main__":
    sys.exit(main())
