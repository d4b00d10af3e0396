"""`make demo` as a person runs it: on the port they name, with its data under its own folder, and
stopped by SIGTERM (what `kill`, a service manager or a closing terminal sends) or by Ctrl-C (SIGINT to
the terminal's whole process group) with nothing left running: neither its web server nor its worker
(they once outlived it)."""

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
READY_TIMEOUT_S = 300  # the demo registers its network (torch loads) before it starts its children
STOP_TIMEOUT_S = 60


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
