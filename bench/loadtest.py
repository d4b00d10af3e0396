"""`make loadtest`: a crowd of participants against a local production-like stack, beside what the
parts underneath can do.

Usage: python -m bench loadtest [--participants N] [--items I] [--think-ms T] [--arrival-s A] [--workers W]
                                [--threads T] [--compare-seconds S] [--faults] [--front nginx|none]

It makes a scratch PostgreSQL database (dropped at the end), seeds one study, starts gunicorn on it
(the web image's workers, read from docker/Dockerfile; Redis holds the rate limits' counts) behind the deployment's front
server (nginx with docker/nginx.conf: static files from disk, images by the signed links the trial
fetch gives, checked by nginx alone; `--front none` sends everything to gunicorn, images included)
and runs N participants at once through the runner's own protocol (bench/crowd.py): start page,
entry, consent, the runner page and its static files, trial batches, images, answers with idempotency
keys, finish; each answer retried as the runner retries it (429/503 with Retry-After, a dropped connection). Then, in the same run and
on the same machine, at saturation: a minimal Django view with no middleware under the same gunicorn
settings, one static file, and pgbench's single-row inserts; the table gives each rate and the
answers' rate as a ratio of it, and the CPU time gunicorn, nginx, the crowd, PostgreSQL and the rest of
the machine spent during the crowd. Last, acknowledged answers are compared with stored rows: nothing
acknowledged may be lost or stored twice.

--faults adds, during the crowd: SIGKILL of one gunicorn worker, a 5 s freeze of the whole server
(SIGSTOP/SIGCONT), a PostgreSQL restart and a Redis restart (both through their own service
commands, so run it on a machine whose PostgreSQL and Redis nothing else is using).

Needs PostgreSQL at 127.0.0.1:5432 and Redis at 127.0.0.1:6379 (as the tests do), the `pgbench`
client and nginx (Debian: nginx-light). Prints what it ran on: the CPU model and core count.
"""

import argparse
import asyncio
import contextlib
import functools
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from bench import crowd

ROOT = Path(__file__).resolve().parent.parent
# This run's own scratch databases: two runs at once (from two checkouts) never drop each other's.
DATABASE = f"iris_loadtest_{os.getpid()}"
PGBENCH_DATABASE = f"iris_pgbench_{os.getpid()}"
POSTGRES = "postgres://postgres@127.0.0.1:5432"
REDIS = "redis://127.0.0.1:6379/14"
FREEZE_S = 5
# The runner's own limits stay on, at the deployment's defaults; the crowd comes from one address,
# so each participant is given its own (X-Forwarded-For, read as a front server would pass it).
SERVER_ENV = {
    "DATABASE_URL": f"{POSTGRES}/{DATABASE}", "REDIS_CACHE_URL": REDIS, "CELERY_BROKER_URL": REDIS,
    "DJANGO_SECRET_KEY": "loadtest-only-not-secret",
    "IRIS_CLIENT_IP_META_KEY": "HTTP_X_FORWARDED_FOR", "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
    "DJANGO_SETTINGS_MODULE": "surveys.settings",
}


def deployed_gunicorn() -> dict[str, int | bool]:
    """The web image's gunicorn workers, threads and --preload (docker/Dockerfile's GUNICORN_CMD_ARGS):
    the crowd meets the server as deployed unless --workers or --threads say otherwise."""
    line = re.search(r'GUNICORN_CMD_ARGS="([^"]*)"', (ROOT / "docker" / "Dockerfile").read_text()).group(1)
    setting = {name: int(value) for name, value in re.findall(r"--(workers|threads)[ =](\d+)", line)}
    return {"workers": setting.get("workers", 1), "threads": setting.get("threads", 1),
            "preload": "--preload" in line.split(), "access_log": "--access-logfile" in line}


def machine() -> str:
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor())
    flags = Path("/proc/cpuinfo").read_text()
    extras = [name for name in ("avx512_bf16", "avx512f", "avx2") if f" {name}" in flags]
    return f"{model}, {os.cpu_count()} cores ({', '.join(extras) or 'no AVX'})"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def psql(sql: str, database: str = "postgres") -> str:
    return subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", database, "-qAtc", sql],
                          check=True, capture_output=True, text=True).stdout.strip()


def seed(env: dict, *, items: int) -> str:
    """Migrate the scratch database, collect static files and make one study; its public id."""
    script = ("import django; django.setup();"
              "from django.core.management import call_command;"
              "call_command('migrate', verbosity=0); call_command('collectstatic', '--noinput', verbosity=0);"
              "from tests.surveys import factories;"
              f"print(factories.study(factories.researcher('loadtest'), n_items={items}).public_id)")
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
                          check=False)
    if done.returncode:
        raise SystemExit(f"seeding failed:\n{done.stderr[-3000:]}")
    return done.stdout.strip().splitlines()[-1]


class Gunicorn:
    """gunicorn on a free port; stopped (and waited for) on exit."""

    def __init__(self, app: str, env: dict, *, workers: int, threads: int, ready_path: str, preload: bool = False,
                 access_log: Path | None = None):
        self.port, self.ready_path = free_port(), ready_path
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", app, "--bind", f"127.0.0.1:{self.port}", "--workers", str(workers),
             "--threads", str(threads), "--timeout", "60", "--backlog", "2048", "--log-level", "error",
             *(["--preload"] if preload else []), *(["--access-logfile", str(access_log)] if access_log else [])],
            cwd=ROOT, env=env, start_new_session=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_ready(self) -> None:
        """Until the port answers, then a few requests so that no worker meets the crowd cold."""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", self.port)) == 0:
                    asyncio.run(crowd.saturate(f"{self.url}{self.ready_path}", seconds=2, concurrency=8))
                    return
            time.sleep(0.2)
        raise SystemExit(f"gunicorn did not listen on {self.port}")

    def worker_pids(self) -> list[int]:
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [int(pid) for pid in children.read_text().split()] if children.exists() else []

    def __enter__(self):
        self.wait_ready()
        return self

    def __exit__(self, *exc):
        os.killpg(self.process.pid, signal.SIGTERM)
        self.process.wait(timeout=30)


# The deployment's front server (docker/nginx.conf), moved onto this machine: these lines of it are
# replaced, each found exactly once, and everything else (static files, the signed image links, the
# image redirect, the headers passed to Django) is the deployment's own. Images are in a local folder
# here, where the deployment has S3: the signed links' location reads that folder, and the
# filesystem form of the internal image location is added.
FRONT_CONFIG = ROOT / "docker" / "nginx.conf"
# The image links' secret, shared by this gunicorn and this nginx (IRIS_IMAGE_LINK_SECRET).
IMAGE_LINK_SECRET = "loadtest-only-not-a-secret-0123456789abcdef"
LOCAL_MEDIA_LOCATION = """
        location /_iris_media/ {{
            internal;
            alias {media}/;
            add_header Cache-Control "private, max-age=3600" always;
            add_header X-Content-Type-Options nosniff always;
        }}
"""


class Front:
    """nginx with the deployment's configuration in front of ``upstream`` (a local gunicorn)."""

    def __init__(self, upstream_port: int, *, static_root: Path, media_root: Path, scratch: Path):
        self.port = free_port()
        places = {
            "pid /run/nginx.pid;": f"pid {scratch}/nginx.pid;",
            "access_log /dev/stdout;": "access_log off;",
            "resolver 127.0.0.11 valid=10s ipv6=off;": "",
            "listen 8080 default_server;": f"listen 127.0.0.1:{self.port} default_server;",
            "alias /srv/iris/static/;": f"alias {static_root}/;",
            "set $web http://web:8000;": f"set $web http://127.0.0.1:{upstream_port};",
            # The crowd comes from one address and names each participant's own in X-Forwarded-For.
            "proxy_set_header X-Real-IP $remote_addr;": "proxy_set_header X-Real-IP $http_x_forwarded_for;",
            "limit_req_zone $binary_remote_addr zone=": "limit_req_zone $http_x_forwarded_for zone=",
            "        location / {\n": LOCAL_MEDIA_LOCATION.format(media=media_root) + "        location / {\n",
            "include /run/iris-front/image-link.conf;": f'set $iris_image_link_secret "{IMAGE_LINK_SECRET}";',
            "proxy_pass $iris_image_origin$iris_image;": f"alias {media_root}/stimuli/$iris_image;",
            "http {\n": "http {\n" + "".join(f"    {kind}_temp_path {scratch}/nginx-{kind};\n"
                                             for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")),
        }
        config = FRONT_CONFIG.read_text()
        for old, new in places.items():
            if config.count(old) != 1:
                raise SystemExit(f"docker/nginx.conf changed: {old.strip()!r} is not there exactly once")
            config = config.replace(old, new)
        self.config = scratch / "nginx.conf"
        self.config.write_text(config)
        self.process = subprocess.Popen(["nginx", "-c", str(self.config), "-g", "daemon off;"],
                                        start_new_session=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self):
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", self.port)) == 0:
                    return self
            time.sleep(0.1)
        raise SystemExit(f"nginx did not listen on {self.port}")

    def __exit__(self, *exc):
        self.process.terminate()
        self.process.wait(timeout=30)


def own_cpu_s(pid: int) -> float:
    stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


def process_cpu_s(pid: int) -> float:
    """User and system CPU seconds of a process and its children now alive (a server and its workers)."""
    children = Path(f"/proc/{pid}/task/{pid}/children")
    return own_cpu_s(pid) + sum(own_cpu_s(int(child))
                                for child in (children.read_text().split() if children.exists() else []))


def database_backends_cpu_s() -> dict[int, float]:
    """CPU seconds of each PostgreSQL backend now serving the scratch database, by pid, and under the
    key 0 those of every backend that has ended so far: the postmaster's reaped children. gunicorn
    keeps its connections only DATABASE_CONN_MAX_AGE, so in a long crowd most backends come and go."""
    backends = {0: reaped_children_cpu_s(postmaster_pid())}
    for proc in Path("/proc").iterdir():
        with contextlib.suppress(OSError):
            if proc.name.isdigit() and f" {DATABASE} ".encode() in (proc / "cmdline").read_bytes():
                backends[int(proc.name)] = own_cpu_s(int(proc.name))
    return backends


@functools.cache
def postmaster_pid() -> int:
    """The PostgreSQL server's own process: the first line of postmaster.pid in its data directory."""
    return int((Path(psql("SHOW data_directory")) / "postmaster.pid").read_text().split()[0])


def reaped_children_cpu_s(pid: int) -> float:
    """User and system CPU seconds of the children ``pid`` has waited for (ended backends, for the
    postmaster; on a shared server, other databases' too)."""
    stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(stat[13]) + int(stat[14])) / os.sysconf("SC_CLK_TCK")  # cutime, cstime


def machine_cpu_s() -> tuple[float, float]:
    """(busy, stolen) CPU seconds of the whole machine so far (/proc/stat): busy is all its users;
    stolen is the time a virtual machine's host gave its CPUs to someone else, which makes every
    rate of a run lower and every CPU figure per answer higher, so it is printed beside them."""
    user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, Path("/proc/stat").read_text().split()[1:9])
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK"), steal / os.sysconf("SC_CLK_TCK")


def cpu_now(processes: dict[str, int]) -> dict:
    busy, stolen = machine_cpu_s()
    return {**{name: process_cpu_s(pid) for name, pid in processes.items()}, "crowd client": time.process_time(),
            "PostgreSQL": database_backends_cpu_s(), "machine": busy, "stolen by the host": stolen}


def cpu_spent(before: dict, after: dict) -> dict[str, float]:
    """Seconds of CPU between two cpu_now; the rest of the machine is Redis, the other PostgreSQL
    processes and, on a shared machine, everything else. A backend that ended during the crowd is
    counted by the postmaster's reaped children (key 0), less what it had spent when the crowd began."""
    spent = {name: after[name] - before[name] for name in before if name != "PostgreSQL"}
    backends_before, backends_after = before["PostgreSQL"], after["PostgreSQL"]
    spent["PostgreSQL"] = (sum(seconds - backends_before.get(pid, 0) for pid, seconds in backends_after.items())
                           - sum(seconds for pid, seconds in backends_before.items() if pid not in backends_after))
    stolen = spent.pop("stolen by the host")
    spent["rest of the machine"] = spent.pop("machine") - sum(spent.values())
    spent["stolen by the host"] = stolen
    return spent


def outside_status(front_url: str, stored_name: str) -> int:
    """The status a client gets asking the front server for a stored image by its internal location
    (404: only Django's X-Accel-Redirect reaches it)."""
    try:
        with urllib.request.urlopen(f"{front_url}/_iris_media/{stored_name}", timeout=10) as answer:
            return answer.status
    except urllib.error.HTTPError as refused:
        return refused.code


def pgbench_inserts(seconds: int) -> float:
    """Single-row insert transactions per second, 8 clients, on a scratch table."""
    psql(f"DROP DATABASE IF EXISTS {PGBENCH_DATABASE}")
    psql(f"CREATE DATABASE {PGBENCH_DATABASE}")
    try:
        psql("CREATE TABLE answers (id bigserial PRIMARY KEY, trial text, choice int, at timestamptz DEFAULT now())",
             PGBENCH_DATABASE)
        with tempfile.NamedTemporaryFile("w", suffix=".sql") as script:
            script.write("INSERT INTO answers (trial, choice) VALUES (md5(random()::text), 1);\n")
            script.flush()
            out = subprocess.run(["pgbench", "-h", "127.0.0.1", "-U", "postgres", "-n", "-c", "8", "-j", "2", "-T",
                                  str(seconds), "-f", script.name, PGBENCH_DATABASE],
                                 check=True, capture_output=True, text=True).stdout
        return float(re.search(r"tps = ([\d.]+)", out).group(1))
    finally:
        psql(f"DROP DATABASE IF EXISTS {PGBENCH_DATABASE}")


async def faults(server: Gunicorn, started: float, log: list[str]) -> None:
    """Kill a worker at 20% of the way, freeze the server, restart PostgreSQL and Redis."""
    await asyncio.sleep(5)
    victim = server.worker_pids()[0]
    os.kill(victim, signal.SIGKILL)
    log.append(f"{time.monotonic() - started:6.1f} s  SIGKILL gunicorn worker {victim}")
    await asyncio.sleep(5)
    os.killpg(server.process.pid, signal.SIGSTOP)
    log.append(f"{time.monotonic() - started:6.1f} s  server frozen for {FREEZE_S} s")
    await asyncio.sleep(FREEZE_S)
    os.killpg(server.process.pid, signal.SIGCONT)
    await asyncio.sleep(5)
    cluster = next(Path("/etc/postgresql").iterdir()).name
    await asyncio.to_thread(subprocess.run, ["pg_ctlcluster", "--skip-systemctl-redirect", cluster, "main", "restart"],
                            check=True)
    log.append(f"{time.monotonic() - started:6.1f} s  PostgreSQL restarted")
    await asyncio.sleep(5)
    await asyncio.to_thread(subprocess.run, ["redis-cli", "-h", "127.0.0.1", "shutdown", "nosave"], check=False)
    await asyncio.to_thread(subprocess.run, ["redis-server", "--daemonize", "yes", "--bind", "127.0.0.1", "--port",
                                             "6379", "--save", "", "--appendonly", "no", "--dir", "/tmp"], check=True)
    log.append(f"{time.monotonic() - started:6.1f} s  Redis restarted")


def stored_answers(public_id: str) -> dict[str, int]:
    """Stored answer rows per trial public id, for the study's participants."""
    rows = psql(f"SELECT t.public_id, count(*) FROM trials_response r JOIN trials_trial t ON t.id = r.trial_id "
                f"JOIN trials_participant p ON p.id = t.participant_id JOIN studies_study s ON s.id = p.study_id "
                f"WHERE s.public_id = '{public_id}' GROUP BY t.public_id", DATABASE)
    return {trial: int(count) for trial, count in (line.split("|") for line in rows.splitlines() if line)}


def percentiles(values: list[float]) -> tuple[float, float, float]:
    if len(values) < 2:
        return (values[0],) * 3 if values else (float("nan"),) * 3
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return statistics.median(values), cuts[94], cuts[98]


def report(result: crowd.CrowdResult, rates: dict[str, float], stored: dict[str, int], events: list[str],
           cpu: dict[str, float]) -> int:
    sustained = crowd.sustained_rate(result.acknowledged_at)
    print(f"\n{result.participants} participants, {result.seconds:.1f} s; "
          f"{len(result.acknowledged) / result.seconds:.1f} answers/s acknowledged over the whole run, "
          f"{sustained:.1f} answers/s sustained (the middle half of the answers)")
    peak, near_peak_s = crowd.concurrency(result.sessions)
    print(f"participants taking part at once: at most {peak}, and at least nine tenths of that for {near_peak_s:.1f} s")
    # The rest is Redis and anything else running: on a shared machine, other users too.
    per_answer = 1000 / max(len(result.acknowledged), 1)
    print("CPU during the crowd, s (ms per answer): " + ", ".join(
        f"{name} {seconds:.1f} ({seconds * per_answer:.1f})" for name, seconds in cpu.items()))
    # 503 and 429 come with Retry-After (wait and send again); any other 5xx is a failure.
    print(f"{'endpoint':<14}{'requests':>9}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'5xx':>6}{'503':>6}{'429':>6}")
    for endpoint, latencies in result.latency_ms.items():
        p50, p95, p99 = percentiles(latencies)
        codes = result.statuses[endpoint]
        failures = sum(count for code, count in codes.items() if code >= 500 and code != 503)
        print(f"{endpoint:<14}{len(latencies):>9}{p50:>9.1f}{p95:>9.1f}{p99:>9.1f}{failures:>6}{codes.get(503, 0):>6}"
              f"{codes.get(429, 0):>6}")
    print("\nrates at saturation in this run (requests/s); ratio = sustained answers/s / rate")
    for name, rate in rates.items():
        print(f"{name:<34}{rate:>10.1f}{sustained / rate:>8.3f}")
    lost = sorted(set(result.acknowledged) - set(stored))
    doubled = sorted(trial for trial, count in stored.items() if count > 1)
    print(f"\nacknowledged answers {len(result.acknowledged)}, stored rows {sum(stored.values())}, "
          f"lost {len(lost)}, stored twice {len(doubled)}, disconnections {result.disconnections}, "
          f"sessions unfinished {result.unfinished}")
    print(f"trials left unanswered for an image that did not come: {result.broken_images}")
    print(f"images given as signed links, served without Django: {result.linked_images} of "
          f"{len(result.latency_ms.get('image', []))}")
    for line in events:
        print("fault:", line)
    return 1 if lost or doubled else 0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench loadtest", description=__doc__.split("\n")[0])
    parser.add_argument("--participants", type=int, default=500)
    parser.add_argument("--items", type=int, default=8, help="trials per participant")
    parser.add_argument("--think-ms", type=float, default=1500, help="each participant's time per trial")
    parser.add_argument("--arrival-s", type=float, default=crowd.ARRIVAL_SPREAD_S,
                        help="participants arrive at random over this many seconds")
    deployed = deployed_gunicorn()
    parser.add_argument("--workers", type=int, default=deployed["workers"], help="gunicorn workers (as deployed)")
    parser.add_argument("--threads", type=int, default=deployed["threads"],
                        help="threads per worker, as deployed (more than 1: gthread workers)")
    parser.add_argument("--compare-seconds", type=int, default=10)
    parser.add_argument("--faults", action="store_true")
    parser.add_argument("--front", choices=("nginx", "none"), default="nginx",
                        help="the deployment's front server before gunicorn (static files, images), or none")
    args = parser.parse_args(argv)
    print(f"loadtest on {machine()}")
    env = {**os.environ, **SERVER_ENV, "PYTHONPATH": str(ROOT)}
    if args.front == "nginx" and not shutil.which("nginx"):
        raise SystemExit("nginx is not installed (Debian: apt-get install nginx-light), or use --front none")
    scratch = Path(tempfile.mkdtemp(prefix="iris-loadtest-"))
    scratch.chmod(0o755)  # nginx's workers (www-data) read the static files and images under it
    env.update(MEDIA_ROOT=str(scratch / "media"), IRIS_VAR_DIR=str(scratch / "var"))
    if args.front == "nginx":  # as in docker-compose.yml's web service
        env.update(IRIS_CLIENT_IP_META_KEY="HTTP_X_REAL_IP", IRIS_IMAGE_ACCEL_PREFIX="/_iris_media/",
                   IRIS_IMAGE_LINK_SECRET=IMAGE_LINK_SECRET, IRIS_RATE_LIMITS_AT_FRONT="true")
    psql(f"DROP DATABASE IF EXISTS {DATABASE}")
    psql(f"CREATE DATABASE {DATABASE}")
    try:
        public_id = seed(env, items=args.items)
        events: list[str] = []
        # As deployed, an access log too (written to the scratch folder, where it costs what stdout would).
        gunicorn = {"workers": args.workers, "threads": args.threads, "preload": deployed["preload"],
                    "access_log": scratch / "gunicorn-access.log" if deployed["access_log"] else None}
        preloaded = ", preloaded" if deployed["preload"] else ""
        print(f"gunicorn: {args.workers} workers x {args.threads} threads{preloaded}; {args.participants} participants, "
              f"{args.items} trials each, {args.think_ms:.0f} ms per trial")
        with Gunicorn("surveys.wsgi:application", env, **gunicorn, ready_path="/healthz") as server, \
                (Front(server.port, static_root=scratch / "var" / "staticfiles", media_root=scratch / "media",
                       scratch=scratch) if args.front == "nginx" else contextlib.nullcontext(server)) as entry:
            async def crowd_with_faults():
                started = time.monotonic()
                run = asyncio.create_task(crowd.run(entry.url, public_id, participants=args.participants,
                                                    think_ms=args.think_ms, arrival_s=args.arrival_s))
                if args.faults:
                    await faults(server, started, events)
                return await run
            processes = {"gunicorn": server.process.pid, **({"nginx": entry.process.pid} if args.front == "nginx" else {})}
            cpu_before = cpu_now(processes)
            result = asyncio.run(crowd_with_faults())
            cpu = cpu_spent(cpu_before, cpu_now(processes))
            if args.front == "nginx":
                print(f"a stored image asked for at the front server's internal location: HTTP "
                      f"{outside_status(entry.url, psql('SELECT iri_png FROM generation_stimulus LIMIT 1', DATABASE))}")
            static = asyncio.run(crowd.saturate(f"{entry.url}{result.static_paths[0]}", seconds=args.compare_seconds))
        with Gunicorn("bench.minimal_app:application", env, **gunicorn, ready_path="/") as minimal:
            bare = asyncio.run(crowd.saturate(f"{minimal.url}/", seconds=args.compare_seconds))
        static_server = "nginx" if args.front == "nginx" else "WhiteNoise"
        rates = {"minimal Django view, no middleware": bare, f"static file ({static_server})": static,
                 "pgbench single-row inserts": pgbench_inserts(args.compare_seconds)}
        return report(result, rates, stored_answers(public_id), events, cpu)
    finally:
        psql(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        shutil.rmtree(scratch, ignore_errors=True)
