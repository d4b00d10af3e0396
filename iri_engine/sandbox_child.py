"""The confined child's entry point (started by ``iri_engine.sandbox.sandbox_run``).

``python -I -c <bootstrap> <engine root> <scratch>``: reads ``request.json`` from scratch, confines
itself (``iri_engine.sandbox.confine``) while it is still one thread without torch, then runs the
task and writes ``answer.json``: the task's answer, or ``{"failure": <category>}``. Nothing of an
exception's text leaves the child; its stdout and stderr go nowhere.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from iri_engine.sandbox import ANSWER_FILE, REQUEST_FILE, SandboxLimits, confine


def main() -> int:
    """Entry point; the exit status is 0 with an answer, 3 with a failure category."""
    engine_root, scratch = sys.argv[1], sys.argv[2]
    request = json.loads(Path(scratch, REQUEST_FILE).read_text())
    limits = SandboxLimits.from_dict(request["limits"])
    try:
        confine(scratch=scratch, engine_root=engine_root, limits=limits)
    except OSError:
        return _write(scratch, {"failure": "sandbox_unavailable"}, status=3)
    from iri_engine import sandboxed  # lazy: torch may start threads, and confinement had to come first

    try:
        answer = sandboxed.TASKS[request["task"]](request, scratch)
    except sandboxed.TaskFailure as failure:
        return _write(scratch, {"failure": failure.category}, status=3)
    return _write(scratch, answer, status=0)


def _write(scratch: str, answer: dict, *, status: int) -> int:
    partial = Path(scratch, f"{ANSWER_FILE}.partial")
    partial.write_text(json.dumps(answer))
    os.replace(partial, Path(scratch, ANSWER_FILE))
    return status
