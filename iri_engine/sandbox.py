"""A confined child process for code-bearing models (TorchScript): no network, a read-only file
system apart from one scratch folder, and CPU, memory, file-size and wall-time limits.

A TorchScript archive is code: its operators can read files (``torch.from_file``) and write them
(``torch.save``), so it is never loaded in a worker or web process. The parent puts the request
and the model's files in a scratch folder and starts ``python -I`` on ``iri_engine.sandbox_child``
with the import path given explicitly; the child confines itself before it imports torch:

- rlimits: RLIMIT_AS (memory), RLIMIT_CPU, RLIMIT_FSIZE, RLIMIT_NOFILE, no core dumps;
- a new user and network namespace where the kernel lets an unprivileged process have one (only
  a loopback that is down: no route anywhere);
- Landlock (kernel ABI >= 4): every file-system access is refused except reading the interpreter,
  its libraries and the engine, and reading and writing the scratch folder; TCP bind and connect
  are refused; from ABI 6, abstract UNIX sockets and signals outside the sandbox too;
- a seccomp filter under which socket(2) fails: no socket of any family (Landlock does not cover
  named UNIX sockets).

Without Landlock or seccomp the child refuses to run (fails closed), and so does the parent
before it starts one where Landlock is missing. The hand-written ctypes calls stand in for a
binding: the one on PyPI is a pre-release without the network rules. The parent never reads the child's stdout or stderr: the answer is a JSON file in scratch,
checked field by field, and a failure is one of the fixed categories of ``FAILURES``, so no text
a model wrote (a file's contents, its exception's message) reaches a researcher. This module does
not import torch, so the web process can use it.
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

# The architectures whose model file is code. Everything else is a weights-only format loaded by
# safetensors or torch.load(weights_only=True) into an architecture the operator installed.
CODE_BEARING_ARCHITECTURES = frozenset({"torchscript"})
REQUEST_FILE = "request.json"
ANSWER_FILE = "answer.json"
PROGRESS_FILE = "progress.json"
POLL_INTERVAL_S = 0.2
MODEL_FILE = "model.pt"
_LAYER_NAME = re.compile(r"^[A-Za-z0-9_.]{1,200}$")
_MAX_LAYERS = 4096
# Landlock: ABI 4 is the first with TCP rules (Linux 6.7); we need it for "no network" to hold
# where no network namespace can be made.
LANDLOCK_MIN_ABI = 4
_SYS_CREATE_RULESET, _SYS_ADD_RULE, _SYS_RESTRICT_SELF = 444, 445, 446  # the same on every architecture
_CREATE_RULESET_VERSION = 1
_RULE_PATH_BENEATH = 1
_PR_SET_NO_NEW_PRIVS = 38
_CLONE_NEWUSER, _CLONE_NEWNET = 0x10000000, 0x40000000
# LANDLOCK_ACCESS_FS_*: the rights of ABI 1, then REFER (2), TRUNCATE (3) and IOCTL_DEV (5).
_FS_EXECUTE, _FS_WRITE_FILE, _FS_READ_FILE, _FS_READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
_FS_ABI1 = (1 << 13) - 1
_FS_BY_ABI = {1: _FS_ABI1, 2: _FS_ABI1 | 1 << 13, 3: _FS_ABI1 | 3 << 13, 4: _FS_ABI1 | 3 << 13}
_FS_ALL_FROM_ABI5 = _FS_ABI1 | 7 << 13
_NET_BIND_TCP, _NET_CONNECT_TCP = 1 << 0, 1 << 1
_SCOPE_ABSTRACT_UNIX, _SCOPE_SIGNAL = 1 << 0, 1 << 1
_READ = _FS_EXECUTE | _FS_READ_FILE | _FS_READ_DIR
_FILE_RIGHTS = _FS_EXECUTE | _FS_WRITE_FILE | _FS_READ_FILE | 1 << 14 | 1 << 15  # those a non-directory may get
# System places the interpreter and torch read while they start: shared libraries, the loader's
# cache, CPU topology. Not /etc, /home, /root, /proc of other processes, the media folder.
_SYSTEM_READ = ("/usr/lib", "/usr/lib64", "/lib", "/lib64", "/usr/local/lib", "/etc/ld.so.cache",
                "/dev/null", "/dev/zero", "/dev/urandom", "/proc/self", "/sys/devices/system/cpu",
                "/sys/fs/cgroup", "/proc/cpuinfo", "/proc/meminfo")

FAILURES = {
    "sandbox_unavailable": "Code-bearing models (TorchScript) run only in a sandbox, which needs Linux "
                           "Landlock (kernel 6.7 or later) on this worker; none is available here, so the "
                           "model is refused. Use a weights-only format (safetensors or a state_dict) instead.",
    "load_failed": "The TorchScript archive could not be loaded in the sandbox.",
    "run_failed": "The model failed while running in the sandbox.",
    "diverged": "The loss became NaN or infinite in the sandbox.",
    "memory_limit": "The model needed more memory than the sandbox allows ({memory_mb} MB).",
    "cpu_limit": "The model used more CPU time than the sandbox allows ({cpu_s} s).",
    "time_limit": "The model ran longer than the sandbox allows ({wall_s} s).",
    "bad_answer": "The sandboxed model gave a malformed answer.",
    "crashed": "The sandboxed model's process ended unexpectedly.",
}


class SandboxError(Exception):
    """A confined run failed; ``category`` is a key of FAILURES and the message its fixed text."""

    def __init__(self, category: str, limits: SandboxLimits):
        self.category = category
        super().__init__(FAILURES[category].format(**limits.to_dict()))


class SandboxCancelled(Exception):
    """The caller's poll asked to stop; the child was killed."""


@dataclass(frozen=True)
class SandboxLimits:
    """What one confined run may use: address space (MB), CPU seconds over all its threads, wall
    seconds, the largest file it may write (MB), open files, and its compute threads."""

    memory_mb: int = 8192
    cpu_s: int = 600
    wall_s: int = 600
    file_mb: int = 1024
    open_files: int = 256
    threads: int = 1

    def to_dict(self) -> dict:
        return {"memory_mb": self.memory_mb, "cpu_s": self.cpu_s, "wall_s": self.wall_s,
                "file_mb": self.file_mb, "open_files": self.open_files, "threads": self.threads}

    @classmethod
    def from_dict(cls, data: dict) -> SandboxLimits:
        return cls(**{key: int(data[key]) for key in cls().to_dict()})


def is_code_bearing(architecture: str) -> bool:
    """Whether a model of this architecture is code (runs only confined, needs a permission)."""
    return architecture.strip() in CODE_BEARING_ARCHITECTURES


def _syscall(number: int, *args) -> int:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    return libc.syscall(number, *args)


def landlock_abi() -> int:
    """The kernel's Landlock ABI version; 0 where Landlock is missing or switched off."""
    version = _syscall(_SYS_CREATE_RULESET, None, ctypes.c_size_t(0), ctypes.c_uint32(_CREATE_RULESET_VERSION))
    return max(int(version), 0)


def sandbox_available() -> bool:
    return landlock_abi() >= LANDLOCK_MIN_ABI


class _RulesetAttr(ctypes.Structure):
    _fields_ = [("handled_access_fs", ctypes.c_uint64), ("handled_access_net", ctypes.c_uint64),
                ("scoped", ctypes.c_uint64)]


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def _landlock_restrict(*, listable: Sequence[str], readable: Sequence[str], writable: Sequence[str]) -> None:
    """Allow only listing ``listable`` folders (not reading their files), reading ``readable`` and
    reading and writing ``writable`` from now on, for this process and every child; refuse TCP.
    Raises OSError where Landlock is missing or too old."""
    abi = landlock_abi()
    if abi < LANDLOCK_MIN_ABI:
        raise OSError(f"Landlock ABI {abi} < {LANDLOCK_MIN_ABI}")
    handled = _FS_BY_ABI.get(abi, _FS_ALL_FROM_ABI5)
    attr = _RulesetAttr(handled, _NET_BIND_TCP | _NET_CONNECT_TCP,
                        _SCOPE_ABSTRACT_UNIX | _SCOPE_SIGNAL if abi >= 6 else 0)
    size = ctypes.sizeof(_RulesetAttr) if abi >= 6 else 16  # older kernels refuse the scoped field
    ruleset = _syscall(_SYS_CREATE_RULESET, ctypes.byref(attr), ctypes.c_size_t(size), ctypes.c_uint32(0))
    if ruleset < 0:
        raise OSError(ctypes.get_errno(), "landlock_create_ruleset")
    try:
        for path in listable:
            _landlock_allow(ruleset, path, _FS_READ_DIR)
        for path in readable:
            _landlock_allow(ruleset, path, _READ & handled)
        for path in writable:
            _landlock_allow(ruleset, path, handled)
        if ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS)")
        if _syscall(_SYS_RESTRICT_SELF, ctypes.c_int(ruleset), ctypes.c_uint32(0)) != 0:
            raise OSError(ctypes.get_errno(), "landlock_restrict_self")
    finally:
        os.close(ruleset)


def _landlock_allow(ruleset: int, path: str, access: int) -> None:
    try:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except OSError:
        return  # a place this system does not have needs no rule
    try:
        if not os.path.isdir(path):
            access &= _FILE_RIGHTS
        rule = _PathBeneathAttr(access, fd)
        if _syscall(_SYS_ADD_RULE, ctypes.c_int(ruleset), ctypes.c_int(_RULE_PATH_BENEATH), ctypes.byref(rule),
                    ctypes.c_uint32(0)) != 0:
            raise OSError(ctypes.get_errno(), f"landlock_add_rule {path}")
    finally:
        os.close(fd)


class _SockFilter(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint16), ("jt", ctypes.c_uint8), ("jf", ctypes.c_uint8), ("k", ctypes.c_uint32)]


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_uint16), ("filter", ctypes.POINTER(_SockFilter))]


# seccomp's view of the syscall: (audit architecture, socket(2)'s number) per machine.
_SECCOMP_ARCH = {"x86_64": (0xC000003E, 41), "aarch64": (0xC00000B7, 198)}
_BPF_LD_W_ABS, _BPF_JEQ, _BPF_JGE, _BPF_RET = 0x20, 0x15, 0x35, 0x06
_SECCOMP_KILL, _SECCOMP_EPERM, _SECCOMP_ALLOW = 0x80000000, 0x00050000 | 1, 0x7FFF0000
_X32_BIT = 0x40000000
_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER = 22, 2


def _refuse_sockets() -> None:
    """A seccomp filter: socket(2) fails with EPERM, so no socket of any family (a named UNIX
    socket included, which Landlock does not cover) can be opened; another architecture's calls kill."""
    arch, socket_nr = _SECCOMP_ARCH.get(os.uname().machine, (None, None))
    if arch is None:
        raise OSError(f"no seccomp socket filter for {os.uname().machine}")
    program = [(_BPF_LD_W_ABS, 0, 0, 4), (_BPF_JEQ, 1, 0, arch), (_BPF_RET, 0, 0, _SECCOMP_KILL),
               (_BPF_LD_W_ABS, 0, 0, 0), (_BPF_JGE, 1, 0, _X32_BIT), (_BPF_JEQ, 0, 1, socket_nr),
               (_BPF_RET, 0, 0, _SECCOMP_EPERM), (_BPF_RET, 0, 0, _SECCOMP_ALLOW)]
    filters = (_SockFilter * len(program))(*[_SockFilter(*step) for step in program])
    fprog = _SockFprog(len(program), filters)
    if ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_SECCOMP)")


def _set_limits(limits: SandboxLimits) -> None:
    mb = 1 << 20
    for which, value in ((resource.RLIMIT_AS, limits.memory_mb * mb), (resource.RLIMIT_FSIZE, limits.file_mb * mb),
                         (resource.RLIMIT_NOFILE, limits.open_files), (resource.RLIMIT_CORE, 0)):
        resource.setrlimit(which, (value, value))
    # SIGXCPU at the soft limit ends the child (the parent names it); SIGKILL a second later if not.
    resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_s, limits.cpu_s + 1))


def _leave_the_network() -> bool:
    """A network namespace of our own (needs a user namespace unless we are root); False where
    the kernel or a container's seccomp profile refuses it (Landlock still refuses TCP)."""
    return ctypes.CDLL(None, use_errno=True).unshare(_CLONE_NEWUSER | _CLONE_NEWNET) == 0


def readable_places(engine_root: str) -> list[str]:
    """What a confined child may read: the interpreter and its libraries, the engine, the system's
    shared libraries. ``engine_root`` is the folder holding the ``iri_engine`` package."""
    places = {sys.prefix, sys.base_prefix, sys.exec_prefix, os.path.dirname(os.path.realpath(sys.executable)),
              os.path.join(engine_root, "iri_engine"), *_SYSTEM_READ}
    return sorted(places | {os.path.realpath(path) for path in places})


def confine(*, scratch: str, engine_root: str, limits: SandboxLimits) -> None:
    """Confine the calling (single-threaded, torch-free) process for good; raise OSError if
    Landlock or the socket filter cannot be applied. No device files: a confined model runs on
    the CPU (a GPU driver's ioctls are a large kernel surface to hand to uploaded code)."""
    _leave_the_network()
    # The engine's parent folder (a checkout: media/ and var/ may be in it) is only listed, as
    # imports scan it; of its files only the iri_engine package is read.
    _landlock_restrict(listable=[engine_root], readable=readable_places(engine_root), writable=[scratch])
    _refuse_sockets()
    _set_limits(limits)
    os.chdir(scratch)


# --- the parent's side ---------------------------------------------------------------------------

_BOOTSTRAP = "import sys; sys.path.insert(0, sys.argv[1]); from iri_engine.sandbox_child import main; sys.exit(main())"


def engine_root() -> str:
    """The folder that holds this checkout's ``iri_engine`` (given to the child explicitly: an
    isolated ``python -I`` would otherwise import whatever checkout an editable install points at)."""
    return str(Path(__file__).resolve().parent.parent)


def sandbox_scratch() -> tempfile.TemporaryDirectory:
    """A fresh scratch folder for one confined run (the caller puts the model's files in it)."""
    return tempfile.TemporaryDirectory(prefix="iris-sandbox-")


def sandbox_run(*, task: str, request: dict, scratch: str, limits: SandboxLimits,
                poll: Callable[[], bool] | None = None) -> dict:
    """Run ``task`` of iri_engine.sandbox_child confined, with ``request`` (JSON) and the files
    already in ``scratch``; answer its JSON answer (the caller checks each field).

    ``poll`` is called about every POLL_INTERVAL_S while it runs; False kills the child and
    raises SandboxCancelled. Raises SandboxError with a fixed message on any failure.
    """
    if not sandbox_available():
        raise SandboxError("sandbox_unavailable", limits)
    Path(scratch, REQUEST_FILE).write_text(json.dumps({"task": task, "limits": limits.to_dict(), **request}))
    command = [sys.executable, "-I", "-c", _BOOTSTRAP, engine_root(), scratch]
    environment = {"PATH": "/usr/bin:/bin", "HOME": scratch, "TMPDIR": scratch, "LANG": "C.UTF-8",
                   "OMP_NUM_THREADS": str(limits.threads), "MKL_NUM_THREADS": str(limits.threads)}
    child = subprocess.Popen(command, env=environment, cwd=scratch, stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        returncode = _wait(child, limits=limits, poll=poll)
    finally:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()
    return _answer(scratch, returncode=returncode, limits=limits)


def _wait(child: subprocess.Popen, *, limits: SandboxLimits, poll: Callable[[], bool] | None) -> int:
    deadline = time.monotonic() + limits.wall_s
    while True:
        try:
            return child.wait(timeout=POLL_INTERVAL_S)
        except subprocess.TimeoutExpired:
            pass
        if time.monotonic() > deadline:
            raise SandboxError("time_limit", limits)
        if poll is not None and poll() is False:
            raise SandboxCancelled()


def _answer(scratch: str, *, returncode: int, limits: SandboxLimits) -> dict:
    if returncode == -signal.SIGXCPU:
        raise SandboxError("cpu_limit", limits)
    try:
        answer = json.loads(Path(scratch, ANSWER_FILE).read_text())
    except (OSError, ValueError):
        raise SandboxError("crashed", limits) from None
    if not isinstance(answer, dict):
        raise SandboxError("bad_answer", limits)
    failure = answer.get("failure")
    if failure is not None:
        raise SandboxError(failure if failure in FAILURES else "bad_answer", limits)
    if returncode != 0:
        raise SandboxError("crashed", limits)
    return answer


def inspect_confined(*, model_spec: dict, limits: SandboxLimits) -> dict:
    """Registration's ModelInfo (as iri_engine.models.ModelInfo.to_dict) of a code-bearing model,
    inspected confined. ``model_spec["weights_path"]``: the archive on this machine. The hash is
    taken here; every other field the child sends is checked. Raises SandboxError."""
    with sandbox_scratch() as scratch:
        shutil.copyfile(model_spec["weights_path"], Path(scratch, MODEL_FILE))
        answer = sandbox_run(task="inspect", request={"model": {**model_spec, "weights_path": MODEL_FILE}},
                             scratch=scratch, limits=limits)
    with open(model_spec["weights_path"], "rb") as handle:
        digest = hashlib.file_digest(handle, "sha256").hexdigest()
    layers, modules = answer.get("layer_names"), answer.get("module_names")
    is_classifier, outputs = answer.get("is_classifier"), answer.get("num_outputs")
    if not (_names_ok(layers) and _names_ok(modules) and isinstance(is_classifier, bool)
            and (outputs is None or (type(outputs) is int and 0 < outputs <= 10**7))):
        raise SandboxError("bad_answer", limits)
    return {"layer_names": layers, "module_names": modules, "checkpoint_sha256": digest,
            "is_classifier": is_classifier, "num_outputs": outputs}


def _names_ok(names: object) -> bool:
    return (isinstance(names, list) and len(names) <= _MAX_LAYERS
            and all(isinstance(name, str) and _LAYER_NAME.match(name) for name in names))
