"""A TorchScript archive is code. Each test is an attack a researcher's upload once made (the payload is
built here with torch.jit), then what must not happen: the model reads the password file or a
secret and sends it back in the error, writes outside its scratch folder or a `.pth` into the
worker's site-packages, connects to a socket, eats memory or loops for ever; an account without
the permission registers one at all. A permitted account's benign model still registers and
generates through a real worker, in the sandbox (docs/security.md, "Uploaded models")."""

import socket
import subprocess
import sys
import sysconfig
import threading
import time
import uuid
import warnings
from pathlib import Path

import pytest
import torch
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection

from iri_engine.sandbox import FAILURES, SandboxLimits, engine_root
from surveys.generation import runner, services
from surveys.generation.models import GenerationJob, JobStatus, RegisteredModel, Stimulus
from tests.surveys import factories
from tests.surveys.browser import celery_worker, wait_for_job, wait_for_model

pytestmark = pytest.mark.django_db
SIZE = 16
MODEL_FIELDS = {"architecture": "torchscript", "input_size": SIZE, "mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5]}


class Leak(torch.nn.Module):
    """Reads a file with torch.from_file and raises with its contents (the issue's first attack)."""

    def __init__(self, path: str):
        super().__init__()
        self.path = path

    def forward(self, x):
        data = torch.from_file(self.path, False, 24, dtype=torch.uint8)
        values: list[int] = data.to(torch.int64).tolist()
        chars: list[str] = []
        for value in values:
            chars.append(chr(value))
        raise RuntimeError("LEAK:" + "".join(chars))


class Plant(torch.nn.Module):
    """Writes ``text`` to ``path`` through a shared torch.from_file mapping."""

    def __init__(self, path: str, text: str):
        super().__init__()
        self.path = path
        self.payload = torch.tensor(list(text.encode()), dtype=torch.uint8)

    def forward(self, x):
        mapped = torch.from_file(self.path, True, self.payload.numel(), dtype=torch.uint8)
        mapped.copy_(self.payload)
        return torch.zeros(1, 4) + mapped.sum().float() * 0  # used, so the write is not optimised away


class Probed(torch.nn.Module):
    """A classifier on the blank image registration probes it with; on any other input, what
    ``attack`` makes of the classifier's answer."""

    def __init__(self):
        super().__init__()
        self.classifier = Classifier()

    def forward(self, x):
        y = self.classifier(x)
        if bool(x.std() > 0.01):
            return self.attack(x, y)
        return y

    def attack(self, x, y):
        return y


class Sleeper(Probed):
    """Writes with a Plant once past registration."""

    def __init__(self, path: str):
        super().__init__()
        self.plant = Plant(path, "owned")

    def attack(self, x, y):
        return y + self.plant(x).sum()


class Diverger(Probed):
    """NaN once past registration."""

    def attack(self, x, y):
        return (y - y) / (y - y)


class Stall(Probed):
    """Hours of arithmetic before its first answer once past registration (so before the first step
    can report progress)."""

    def attack(self, x, y):
        a = torch.ones(256, 256)
        for _ in range(1000000):
            a = torch.tanh(a @ a)
        return y + a.sum() * 0


class Hog(torch.nn.Module):
    """Asks for 16 GiB of address space (never touched: harmless unconfined)."""

    def forward(self, x):
        big = torch.empty(1 << 34, dtype=torch.uint8)
        return torch.zeros(1, 4) + float(big.numel() > 0)


class Spin(torch.nn.Module):
    def forward(self, x):
        count = 0
        while count >= 0:
            count = (count + 1) % 1000
        return x


class Classifier(torch.nn.Module):
    """Benign: a linear classifier of 16x16 images into 5 classes."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.fc = torch.nn.Linear(3 * SIZE * SIZE, 5)

    def forward(self, x):
        return self.fc(x.flatten(1))


def archive(module: torch.nn.Module, name: str = "model.pt") -> SimpleUploadedFile:
    path = Path(f"/tmp/iris-test-{uuid.uuid4().hex}.pt")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # torch.jit is deprecated upstream
            torch.jit.save(torch.jit.script(module), str(path))
        return SimpleUploadedFile(name, path.read_bytes())
    finally:
        path.unlink(missing_ok=True)


def register(api, module: torch.nn.Module, name: str = "net"):
    return api.post("/api/models/", {"name": name, "weights": archive(module), **MODEL_FIELDS}, format="multipart")


@pytest.mark.parametrize("target", ["/etc/passwd", "secret"])
def test_a_model_cannot_send_back_a_file_it_reads(api_as, coder, tmp_path, target):
    secret = tmp_path / "secret.txt"
    secret.write_text("SECRET-7f3a9c-do-not-leak\n")
    path = str(secret) if target == "secret" else target

    response = register(api_as(coder), Leak(path))

    assert response.status_code == 400
    body = response.content.decode()
    assert "root:" not in body and "SECRET-7f3a9c" not in body and "LEAK" not in body
    assert response.json()["detail"] == [FAILURES["run_failed"]]
    assert not RegisteredModel.objects.exists()


@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(300)
def test_a_worker_inspecting_for_a_web_process_without_torch_sends_back_no_file_either(api_as, coder, settings):
    settings.IRIS_INSPECT_ON_WORKER = True  # the deployment: the web image has no torch
    api = api_as(coder)

    with celery_worker() as worker:
        response = register(api, Leak("/etc/passwd"))
        wait_for_model(RegisteredModel.objects.get(pk=response.json()["id"]), timeout_s=240, worker=worker)
    polled = api.get(response["Location"])

    assert response.status_code == 202
    assert "root:" not in polled.content.decode()
    assert (polled.json()["status"], polled.json()["error"]) == ("refused", FAILURES["run_failed"])
    assert not RegisteredModel.objects.get().weights
    assert [path for path in Path(settings.MEDIA_ROOT).rglob("*") if path.is_file()] == []


def test_a_model_cannot_write_outside_its_scratch_folder(api_as, coder, tmp_path):
    outside = tmp_path / "written-by-the-model.txt"

    register(api_as(coder), Plant(str(outside), "owned"))

    assert not outside.exists()


def test_a_model_cannot_plant_a_pth_file_in_site_packages(api_as, coder, tmp_path):
    site_packages = Path(sysconfig.get_paths()["purelib"])
    planted = site_packages / f"iris-attack-{uuid.uuid4().hex}.pth"
    marker = tmp_path / "ran-at-python-start"
    try:
        register(api_as(coder), Plant(str(planted), f"import pathlib; pathlib.Path({str(marker)!r}).touch()\n"))
        subprocess.run([sys.executable, "-c", "pass"], check=True, timeout=60)

        assert not planted.exists()
        assert not marker.exists()
    finally:
        planted.unlink(missing_ok=True)


def test_confined_code_cannot_read_beside_the_engine_connect_to_a_socket_or_write_into_python(tmp_path):
    """TorchScript has no socket operator, so this payload is Python code run confined, as the
    sandbox's own last line: what any code-bearing model could at worst do. It reads the checkout
    beside the engine (media/ and var/ may live there) and /etc/passwd, and tries TCP and a named
    UNIX socket (which Landlock alone does not cover)."""
    tcp = socket.create_server(("127.0.0.1", 0))
    unix = socket.socket(socket.AF_UNIX)
    unix.bind(str(tmp_path / "listening.sock"))
    unix.listen()
    planted = Path(sysconfig.get_paths()["purelib"]) / f"iris-attack-{uuid.uuid4().hex}.pth"
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    payload = (
        "import sys; sys.path.insert(0, sys.argv[1]);"
        "from iri_engine.sandbox import confine, SandboxLimits;"
        f"confine(scratch={str(scratch)!r}, engine_root=sys.argv[1], limits=SandboxLimits());"
        "import socket, contextlib\n"
        "with contextlib.suppress(OSError):"
        f" socket.create_connection(('127.0.0.1', {tcp.getsockname()[1]}), timeout=2).sendall(b'hi')\n"
        "with contextlib.suppress(OSError):"
        f" s = socket.socket(socket.AF_UNIX); s.connect({str(tmp_path / 'listening.sock')!r}); s.sendall(b'hi')\n"
        f"with contextlib.suppress(OSError): open({str(planted)!r}, 'w').write('import os')\n"
        "def attempt(path):\n"
        "    try:\n        return open(path).read()[:1] and 'read'\n"
        "    except OSError:\n        return 'refused'\n"
        "open('done', 'w').write(' '.join(attempt(p) for p in (sys.argv[1] + '/pyproject.toml', '/etc/passwd')))\n"
    )
    try:
        subprocess.run([sys.executable, "-I", "-c", payload, engine_root()], check=True, timeout=60)
        for listener in (tcp, unix):
            listener.settimeout(1)
            with pytest.raises(TimeoutError):
                listener.accept()
        assert not planted.exists()
        assert (scratch / "done").read_text() == "refused refused"  # it ran to the end, confined
    finally:
        tcp.close()
        unix.close()
        planted.unlink(missing_ok=True)


def test_a_memory_hog_is_stopped_at_the_memory_limit(api_as, coder, settings):
    settings.IRIS_SANDBOX_MEMORY_MB = 6144

    response = register(api_as(coder), Hog())

    assert response.status_code == 400
    assert response.json()["detail"] == [FAILURES["memory_limit"].format(**SandboxLimits(memory_mb=6144).to_dict())]


@pytest.mark.timeout(240)
def test_an_endless_loop_is_stopped_at_the_time_limit(api_as, coder, settings):
    settings.IRIS_SANDBOX_INSPECT_S = 20
    started = time.monotonic()

    response = register(api_as(coder), Spin())

    assert response.status_code == 400
    assert response.json()["detail"] == [FAILURES["time_limit"].format(**SandboxLimits(wall_s=20).to_dict())]
    assert time.monotonic() - started < 60


def test_an_account_without_the_permission_is_refused_by_the_api(api_as, researcher, settings):
    response = register(api_as(researcher), Classifier())

    assert response.status_code == 400
    assert "Can register code-bearing models" in response.json()["detail"][0]
    assert not RegisteredModel.objects.exists()
    assert not list((Path(settings.MEDIA_ROOT) / "checkpoints").glob("*"))


def test_an_account_without_the_permission_is_refused_by_the_admin_form(client, researcher, settings):
    client.force_login(researcher)

    response = client.post("/admin/generation/registeredmodel/add/", {
        "name": "net", "architecture": "torchscript", "weights": archive(Classifier()), "input_size": SIZE,
        "mean_text": "0.5, 0.5, 0.5", "std_text": "0.5, 0.5, 0.5", "init_seed": 0})

    assert response.status_code == 200
    assert "Can register code-bearing models" in response.content.decode()
    assert not RegisteredModel.objects.exists()
    assert not list((Path(settings.MEDIA_ROOT) / "checkpoints").glob("*"))


def job_posted(api, model_id: int, target_set_id: int) -> GenerationJob:
    submitted = api.post("/api/jobs/", {"model": model_id, "target_set": target_set_id,
                                        "config": {"layers": ["output"], "iterations": 30}}, format="json")
    assert submitted.status_code == 201, submitted.content
    return GenerationJob.objects.get(pk=submitted.json()["id"])


@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(600)
def test_a_permitted_accounts_models_register_and_generate_confined_through_a_worker(api_as, coder, tmp_path):
    """A benign model makes its IRIs; one that attacks only on real images (registration probes it
    with a blank one) fails its batch with the sandbox's message and writes nothing."""
    api = api_as(coder)
    outside = tmp_path / "written-while-generating.txt"
    benign, sleeper = register(api, Classifier(), name="benign"), register(api, Sleeper(str(outside)), name="sleeper")
    assert (benign.status_code, sleeper.status_code) == (201, 201), (benign.content, sleeper.content)
    assert benign.json()["layer_names"] == ["output"] and benign.json()["is_classifier"] is True
    targets = services.target_set_create(owner=coder, name="t", uploads=[
        (f"{i}.png", factories.png_bytes((60 * i, 200 - 40 * i, 90), size=SIZE)) for i in range(3)])

    with celery_worker() as worker:
        good, bad = job_posted(api, benign.json()["id"], targets.pk), job_posted(api, sleeper.json()["id"], targets.pk)
        good, bad = wait_for_job(good, timeout_s=400, worker=worker), wait_for_job(bad, timeout_s=400, worker=worker)

    assert good.status == JobStatus.DONE, good.error
    stimuli = Stimulus.objects.filter(job=good)
    assert stimuli.count() == 3
    assert all(s.validity["passes"] is not None and s.checkpoint_sha256 == benign.json()["checkpoint_sha256"]
               for s in stimuli)
    # Judged in the worker against the job's criterion and null, as any model's IRIs are.
    assert all(s.verdict["criterion"] == good.spec.criterion.to_dict() and s.passes == s.verdict["passes"]
               and s.verdict["null"]["kind"] == good.spec.criterion.null for s in stimuli)
    assert bad.status == JobStatus.FAILED
    assert bad.error == f"batch 0: SandboxError: {FAILURES['run_failed']}"
    assert not outside.exists()


def test_a_confined_run_whose_loss_becomes_nan_fails_as_diverged_and_stores_nothing(
        api_as, coder, inline_tasks, django_capture_on_commit_callbacks, settings):
    registered = register(api_as(coder), Diverger(), name="diverger")
    assert registered.status_code == 201, registered.content
    targets = services.target_set_create(owner=coder, name="t", uploads=[
        (f"{i}.png", factories.png_bytes((60 * i, 200 - 40 * i, 90), size=SIZE)) for i in range(2)])
    files_before = sorted(Path(settings.MEDIA_ROOT).rglob("*"))

    with django_capture_on_commit_callbacks(execute=True):
        job = services.job_submit(owner=coder, model=RegisteredModel.objects.get(pk=registered.json()["id"]),
                                  target_set=targets, config={"layers": ["output"], "iterations": 10})

    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert job.error == "batch 0: The optimisation diverged: the loss became NaN or infinite in the sandbox. " \
                        "Nothing was stored."
    assert not Stimulus.objects.filter(job=job).exists()
    assert sorted(Path(settings.MEDIA_ROOT).rglob("*")) == files_before


@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(300)
def test_a_cancel_stops_a_confined_batch_before_the_child_reports_any_progress(api_as, coder, settings):
    """The worker hears from its poll by time, not only when the child reports: it beats the lease
    and sees the cancel while the model is still in its first step."""
    settings.IRIS_SANDBOX_BATCH_S = 150  # the child's own CPU and wall limit, should the cancel fail
    api = api_as(coder)
    registered = register(api, Stall(), name="stall")
    assert registered.status_code == 201, registered.content
    targets = services.target_set_create(owner=coder, name="t", uploads=[
        (f"{i}.png", factories.png_bytes((60 * i, 200 - 40 * i, 90), size=SIZE)) for i in range(2)])
    job = job_posted(api, registered.json()["id"], targets.pk)
    batch = job.batches.get()

    def run() -> None:
        try:
            runner.batch_run(batch_id=batch.pk)
        finally:
            connection.close()

    worker = threading.Thread(target=run)
    worker.start()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and job.batches.get().status != JobStatus.RUNNING:
        time.sleep(0.2)
    time.sleep(5)  # the child is confined and inside its first step
    assert api.post(f"/api/jobs/{job.pk}/cancel/").status_code == 200
    cancelled_at = time.monotonic()
    worker.join(timeout=60)

    assert not worker.is_alive()
    assert time.monotonic() - cancelled_at < 30
    batch.refresh_from_db()
    assert (batch.status, batch.steps_done) == (JobStatus.CANCELLED, 0)
    assert not Stimulus.objects.filter(job=job).exists()


JOB_FORM = {"loss": "reg_free", "seed_type": "super-noise", "optimizer": "ngd", "iterations": 10, "step_size": 1.0,
            "keep": "best", "parameterization": "pixel", "precision": "auto", "random_seed": 0, "perceptual": "",
            "null": "targets"}


@pytest.mark.parametrize("role", ["recognizers", "proxies"])
def test_a_torchscript_model_cannot_judge_another_jobs_iris_where_it_would_run_unconfined(client, coder, role):
    client.force_login(coder)
    weights_only = factories.registered_model(coder)
    scripted = RegisteredModel.objects.create(owner=coder, name="scripted", architecture="torchscript", input_size=SIZE,
                                              layer_names=["output"], is_classifier=True, num_outputs=5)
    targets = services.target_set_create(owner=coder, name="t", uploads=[("a.png", factories.png_bytes((1, 2, 3)))])
    judge = {"recognizers": [scripted.pk]} if role == "recognizers" else {"proxies": "scripted: output"}

    response = client.post("/admin/generation/generationjob/submit/", {
        **JOB_FORM, "layers": [f"{weights_only.pk}|layer2"], "target_set": targets.pk, **judge})

    assert response.status_code == 200
    assert "scripted is a TorchScript model, which runs only in its own sandbox" in response.content.decode()
    assert not GenerationJob.objects.exists()
