"""`make demo` as a person runs it: on the port they name, with its data under its own folder, and
stopped by SIGTERM (what `kill`, a service manager or a closing terminal sends) or by Ctrl-C (SIGINT to
the terminal's whole process group) with nothing left running: neither its web server nor its worker
(they once outlived it). And what it surveys: the two committed control networks, one study comparing
them."""

import os
import signal
import socket
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from iri_engine.controls import manifest

# slow (make test-slow): each test runs `make demo` in full, 30 s to a minute.
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[3]
READY_TIMEOUT_S = 300  # the demo registers its network (torch loads) before it starts its children
STOP_TIMEOUT_S = 60
DEMO_STEPS = 100  # enough for the controls' IRIs to pass the default criterion; the demo's own is 300
DEMO_TIMEOUT_S = 600  # migrate, a worker's start, two networks registered and two jobs of ten digits


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def session_processes(session: int) -> set[int]:
    """Every process of a session: what make started, and what those started, reparented or not."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if os.getsid(int(entry.name)) == session:
                    found.add(int(entry.name))
            except ProcessLookupError:
                continue
    return found


def port_answers(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def sigterm_to_make(make: subprocess.Popen) -> None:
    make.send_signal(signal.SIGTERM)


def ctrl_c(make: subprocess.Popen) -> None:
    os.killpg(make.pid, signal.SIGINT)  # a terminal sends it to every process in the foreground group


@pytest.mark.parametrize("stop", [sigterm_to_make, ctrl_c])
def test_make_demo_stopped_leaves_no_process_it_started(tmp_path, stop):
    port = free_port()
    env = {key: value for key, value in os.environ.items() if key != "MAKEFLAGS"}
    make = subprocess.Popen(["make", "-o", "install", "demo", f"PORT={port}", f"DEMO_DIR={tmp_path}"], cwd=ROOT,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    try:
        deadline, lines = time.monotonic() + READY_TIMEOUT_S, []
        while not any("Researcher admin:" in line for line in lines):
            assert time.monotonic() < deadline and make.poll() is None, "".join(lines)
            lines.append(make.stdout.readline())
        while not port_answers(port):
            assert time.monotonic() < deadline, "the demo's web server never listened"
            time.sleep(0.5)
        assert f"127.0.0.1:{port}/admin/" in "".join(lines)
        assert len(session_processes(make.pid)) >= 4  # make, the demo, its web server and its worker

        stop(make)
        make.wait(timeout=STOP_TIMEOUT_S)
        deadline = time.monotonic() + STOP_TIMEOUT_S
        while session_processes(make.pid) and time.monotonic() < deadline:
            time.sleep(0.5)

        assert session_processes(make.pid) == set()
        assert not port_answers(port)
        assert (tmp_path / "iris.sqlite3").exists() and (tmp_path / "media").is_dir()
    finally:
        for pid in session_processes(make.pid):
            os.kill(pid, signal.SIGKILL)


def test_make_demo_surveys_the_committed_standard_and_robust_control_networks(tmp_path):
    env = {key: value for key, value in os.environ.items() if key != "MAKEFLAGS"}
    make = subprocess.Popen(["make", "-o", "install", "demo", f"PORT={free_port()}", f"DEMO_DIR={tmp_path}",
                             f"DEMO_ARGS=--no-serve --iterations {DEMO_STEPS}"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        printed, _ = make.communicate(timeout=DEMO_TIMEOUT_S)
    finally:
        for pid in session_processes(make.pid):
            os.kill(pid, signal.SIGKILL)
    assert make.returncode == 0, printed[-3000:]
    standard, robust = "digits-standard (negative control)", "digits-robust (positive control)"
    for name in (standard, robust):
        assert f"Generating 10 IRIs at {name} / avgpool ({DEMO_STEPS} steps each)" in printed
    assert "Study ready." in printed

    with sqlite3.connect(tmp_path / "iris.sqlite3") as db:
        registered = dict(db.execute("SELECT name, checkpoint_sha256 FROM generation_registeredmodel"))
        studies = db.execute("SELECT id, name FROM studies_study").fetchall()
        surveyed = db.execute(
            "SELECT m.name, COUNT(*) FROM studies_studyitem i JOIN generation_stimulus s ON s.id = i.stimulus_id "
            "JOIN generation_generationjob j ON j.id = s.job_id JOIN generation_registeredmodel m ON m.id = j.model_id "
            "GROUP BY m.name").fetchall()
    networks = manifest()["networks"]  # the weights committed with the controls, not a random network
    assert registered == {standard: networks["standard"]["sha256"], robust: networks["robust"]["sha256"]}
    assert [name for _, name in studies] == [f"Demo 2AFC study: {standard} vs {robust}"]
    assert {name for name, count in surveyed if count > 0} == {standard, robust}  # one study, both networks
