"""`make demo`: the whole flow on the embedded default, from a fresh clone, with no services.

Creates an admin account, registers the two control networks (iri_engine.controls: a standard and
an adversarially trained digit classifier, weights in the repository), loads held-out digits as
targets, starts the web server and a Celery worker, generates each network's IRIs on the CPU with a
progress bar, makes a 2AFC study that compares the two and prints where to go next.
"""

import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.files import File
from django.core.management.base import BaseCommand, CommandError
from django.urls import reverse

from iri_engine.demo import DEMO_CONTROL_LAYER, DEMO_CONTROLS, DEMO_ITERATIONS, demo_digits_zip, write_demo_controls
from surveys.console.links import participant_link
from surveys.env import env_str
from surveys.generation import selectors, services
from surveys.generation.models import GenerationJob, JobStatus, RegisteredModel, TargetSet
from surveys.scoring.services import study_create

DEMO_TARGET_SET = "held-out digits"
PROGRESS_WIDTH = 40
CHILD_STOP_S = 10  # how long a child (web server, worker) may take to stop before it is killed


class Command(BaseCommand):
    help = "Run the IRIS demo: admin, two control networks, targets, IRIs, a study, a web server and a worker."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--iterations", type=int, default=DEMO_ITERATIONS)
        parser.add_argument("--no-serve", action="store_true", help="Stop after printing the links (for tests).")

    def handle(self, *args, port: int, iterations: int, no_serve: bool, **options):
        # SIGTERM (make forwards it, as do `kill` and service managers) stops the demo as Ctrl-C does:
        # through the finally below, which stops every process the demo started.
        signal.signal(signal.SIGTERM, _interrupt)
        password = secrets.token_urlsafe(9)
        admin = _admin_account(password)
        models = _demo_models(admin)
        targets = _demo_targets(admin)
        children = []
        try:
            children.append(_start_worker())
            if not no_serve:
                children.append(_start_server(port))
            self._run(admin, password, models, targets, port=port, iterations=iterations)
            if not no_serve:
                self.stdout.write("Press Ctrl-C to stop the web server and the worker.")
                children[-1].wait()
        except KeyboardInterrupt:
            self.stdout.write("\nStopping the demo's web server and worker.")
        finally:
            _stop(children)

    def _run(self, admin, password, models, targets, *, port: int, iterations: int) -> None:
        base = f"http://127.0.0.1:{port}"
        self.stdout.write(f"\nResearcher admin: {base}{reverse('admin:index')}  (user: admin  password: {password})")
        self.stdout.write(f"Worker log: {settings.VAR_DIR / 'demo-worker.log'}")
        jobs = [self._demo_job(admin, model, targets, iterations=iterations) for model in models]
        study = study_create(owner=admin, name=f"Demo 2AFC study: {' vs '.join(m.name for m in models)}", jobs=jobs)
        link = participant_link(study).replace(settings.SITE_URL, base)
        self.stdout.write(self.style.SUCCESS(
            f"\nStudy ready.\n  Participant link: {link}\n"
            f"  Study in admin:   {base}{reverse('admin:studies_study_change', args=[study.pk])}\n"
            f"  Scores (API):     {base}{reverse('api-study-scores', args=[study.pk])}\n"))

    def _demo_job(self, admin, model: RegisteredModel, targets: TargetSet, *, iterations: int) -> GenerationJob:
        """IRIs of the targets at the network's penultimate layer, as the papers make them, judged
        against the default criterion (a study surveys only those that pass)."""
        job = services.job_submit(owner=admin, model=model, target_set=targets, config={
            "layers": [DEMO_CONTROL_LAYER], "loss": "reg_free", "seed_type": "super-noise", "iterations": iterations,
            "step_size": 1.0, "optimizer": "ngd"})
        self.stdout.write(f"Generating {targets.images.count()} IRIs at {model.name} / {DEMO_CONTROL_LAYER} "
                          f"({iterations} steps each) on the CPU; watch it in admin too.")
        job = self._wait_with_progress(job)
        if job.status != JobStatus.DONE:
            raise CommandError(f"The demo job ended {job.status}: {job.error}")
        counts = selectors.job_verdicts(job=job)
        self.stdout.write(f"  {counts['passed']} pass the IRI criterion, {counts['failed']} fail it "
                          "(failing ones are left out of the study).")
        return job

    def _wait_with_progress(self, job: GenerationJob) -> GenerationJob:
        started = time.monotonic()
        while True:
            job.refresh_from_db()
            state = selectors.job_progress(job=job)
            filled = round(PROGRESS_WIDTH * state["fraction"])
            loss = "" if state["current_loss"] is None else f" loss {state['current_loss']:.4f}"
            bar = "#" * filled + "-" * (PROGRESS_WIDTH - filled)
            self.stdout.write(f"\r  [{bar}] {100 * state['fraction']:5.1f}%{loss}  "
                              f"{time.monotonic() - started:5.0f} s ", ending="")
            self.stdout.flush()
            if job.status in (JobStatus.DONE, JobStatus.FAILED, JobStatus.CANCELLED):
                self.stdout.write("")
                return job
            time.sleep(0.5)


def _admin_account(password: str):
    users = get_user_model()
    admin, _ = users.objects.get_or_create(username="admin", defaults={"is_staff": True, "is_superuser": True})
    admin.is_staff = admin.is_superuser = True
    admin.set_password(password)
    admin.save()
    return admin


def _demo_models(owner) -> list[RegisteredModel]:
    """The standard and the robust control network, registered as a lab registers its own."""
    names = {control: f"digits-{control} ({role})" for control, role in DEMO_CONTROLS.items()}
    models = []
    with tempfile.TemporaryDirectory() as scratch:
        for control, spec in write_demo_controls(scratch).items():
            existing = RegisteredModel.objects.filter(owner=owner, name=names[control]).first()
            if existing:
                models.append(existing)
                continue
            with open(spec.weights_path, "rb") as weights:
                models.append(services.model_register(
                    owner=owner, name=names[control], architecture=spec.architecture,
                    weights=File(weights, Path(spec.weights_path).name), input_size=spec.input_size, mean=spec.mean,
                    std=spec.std, num_classes=spec.num_classes))
    return models


def _demo_targets(owner) -> TargetSet:
    existing = TargetSet.objects.filter(owner=owner, name=DEMO_TARGET_SET).first()
    if existing:
        return existing
    return services.target_set_create(owner=owner, name=DEMO_TARGET_SET, uploads=[("digits.zip", demo_digits_zip())])


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def _stop(children: list[subprocess.Popen]) -> None:
    """Ask each child to stop, then make sure: a child still running after CHILD_STOP_S is killed."""
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    for child in children:
        try:
            child.wait(timeout=CHILD_STOP_S)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def _start_worker() -> subprocess.Popen:
    # One process (the solo pool), so that stopping it leaves no pool process behind.
    command = [sys.executable, "-m", "celery", "-A", "surveys", "worker", "-Q", "gpu,default", "--pool", "solo",
               "--loglevel", "WARNING", "--without-gossip", "--without-mingle", "--without-heartbeat"]
    log = open(settings.VAR_DIR / "demo-worker.log", "ab")  # noqa: SIM115 - the worker keeps it open
    return subprocess.Popen(command, env=os.environ.copy(), stdout=log, stderr=subprocess.STDOUT)


def _start_server(port: int) -> subprocess.Popen:
    command = [sys.executable, "manage.py", "runserver", "--noreload", "--insecure", f"127.0.0.1:{port}"]
    return subprocess.Popen(command, env={**os.environ, "DJANGO_DEBUG": env_str("DJANGO_DEBUG", "1")},
                            stdout=subprocess.DEVNULL)
