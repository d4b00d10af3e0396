"""Simulated participants speaking the runner's protocol over HTTP (for bench/loadtest.py).

Each participant has its own cookies (the CSRF cookie) and its own address (X-Forwarded-For), reads
the CSRF token from the page as static/iris/runner.js does, and retries as the runner does: a 429 or
503 waits its Retry-After, a dropped connection waits a second; an answer is acknowledged only by a
201 (stored) or 200 (stored before), and its idempotency key (the trial's id) makes a retry harmless.
"""

import asyncio
import json
import random
import re
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field

import aiohttp

ATTEMPTS = 30
TRIALS_AHEAD = 8  # what the runner asks for (static/iris/runner.js, "?n=")
ARRIVAL_SPREAD_S = 10.0  # participants arrive over this long, as a published study fills
TIMEOUT = aiohttp.ClientTimeout(total=90)
STATIC = re.compile(r'(?:src|href)="(/static/[^"]+)"')
CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
ARRIVAL = re.compile(r'name="arrival" value="([^"]*)"')


def sustained_rate(times: list[float]) -> float:
    """Answers/s over the middle half of the answers (from the first quarter's last to the third
    quarter's last): the crowd's steady pace, without the arrivals' ramp or the last stragglers,
    which bound the whole run's average whatever the server does."""
    if len(times) < 8:
        return 0.0
    ordered = sorted(times)
    first, last = len(ordered) // 4, 3 * len(ordered) // 4
    return (last - first) / max(ordered[last] - ordered[first], 1e-9)


def concurrency(sessions: list[tuple[float, float]]) -> tuple[int, float]:
    """(the most participants taking part at once, the seconds at least nine tenths of that many were):
    each session from its start page to its finish. How "N participants at once" is checked: a crowd
    that arrives faster than it finishes reaches N; one spread too thin never does."""
    events = sorted([(began, 1) for began, _ in sessions] + [(ended, -1) for _, ended in sessions])
    peak = running = 0
    for _, step in events:
        running += step
        peak = max(peak, running)
    near, since, running = 0.0, None, 0
    for moment, step in events:
        running += step
        if running * 10 >= peak * 9 and since is None:
            since = moment
        elif running * 10 < peak * 9 and since is not None:
            near, since = near + moment - since, None
    return peak, near


@dataclass
class CrowdResult:
    participants: int
    seconds: float = 0.0
    latency_ms: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    statuses: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    acknowledged: list[str] = field(default_factory=list)
    acknowledged_at: list[float] = field(default_factory=list)  # seconds since the crowd began, in order
    began: float = 0.0
    disconnections: int = 0
    unfinished: int = 0
    broken_images: int = 0  # trials reported unavailable, never answered, because an image did not come
    static_paths: list[str] = field(default_factory=list)
    linked_images: int = 0  # image URLs that were signed links (the front server's alone), not Django's
    sessions: list[tuple[float, float]] = field(default_factory=list)  # (start, finish) of each, seconds since began


class Participant:
    def __init__(self, base: str, number: int, result: CrowdResult, connector: aiohttp.TCPConnector):
        self.base, self.result = base, result
        self.address = f"10.{number // 65536 % 256}.{number // 256 % 256}.{number % 256}"
        self.session = aiohttp.ClientSession(connector=connector, connector_owner=False, timeout=TIMEOUT,
                                             cookie_jar=aiohttp.CookieJar(unsafe=True))
        self.csrf = ""

    async def request(self, endpoint: str, method: str, path: str, **kwargs) -> tuple[int, str, dict]:
        """(status, body, headers) of the first answer that is not "try again later"."""
        headers = {"X-Forwarded-For": self.address, "X-CSRFToken": self.csrf, **kwargs.pop("headers", {})}
        for _ in range(ATTEMPTS):
            began = time.perf_counter()
            try:
                async with self.session.request(method, f"{self.base}{path}", headers=headers,
                                                allow_redirects=False, **kwargs) as response:
                    body = await response.text(errors="replace")
                    self.result.latency_ms[endpoint].append((time.perf_counter() - began) * 1000)
                    self.result.statuses[endpoint][response.status] += 1
                    if response.status in (429, 503):
                        await asyncio.sleep(float(response.headers.get("Retry-After", 1)))
                        continue
                    if response.status >= 500:
                        await asyncio.sleep(1)
                        continue
                    return response.status, body, dict(response.headers)
            except (TimeoutError, aiohttp.ClientError):
                self.result.disconnections += 1
                await asyncio.sleep(1)
        raise RuntimeError(f"{endpoint}: no answer after {ATTEMPTS} attempts")

    async def page(self, endpoint: str, method: str, path: str, **kwargs) -> tuple[str, str]:
        """Follow one redirect as a browser would; (final path, html)."""
        status, html, headers = await self.request(endpoint, method, path, **kwargs)
        if status in (301, 302, 303):
            path = headers["Location"]
            status, html, _ = await self.request(endpoint + " page", "GET", path)
        if status != 200:
            raise RuntimeError(f"{endpoint}: {status}")
        found = CSRF.search(html)
        self.csrf = found.group(1) if found else self.csrf
        return path, html

    async def take_part(self, public_id: str, think_ms: float) -> None:
        began = time.perf_counter() - self.result.began
        prolific_id = f"load{self.address.replace('.', '')}"
        start = f"/s/{public_id}/?PROLIFIC_PID={prolific_id}"
        _, start_page = await self.page("start", "GET", start)
        # The start page's arrival key, which the browser posts with the button: a retried press (the
        # first answer lost to a killed worker) resumes the session that press created.
        arrival = ARRIVAL.search(start_page).group(1)
        page, _ = await self.page("enter", "POST", start,
                                  data={"PROLIFIC_PID": prolific_id, "csrfmiddlewaretoken": self.csrf,
                                        "arrival": arrival})
        _, runner = await self.page("consent", "POST", f"{page}consent",
                                    data={"agree": "yes", "csrfmiddlewaretoken": self.csrf})
        statics = STATIC.findall(runner)
        self.result.static_paths = self.result.static_paths or statics
        for path in statics:  # once per participant: the browser caches them after
            await self.request("static", "GET", path)
        queue: list[dict] = []
        settled: set[str] = set()
        while True:
            if len(queue) < 2:  # as static/iris/runner.js refills: fewer than two trials held
                _, body, _ = await self.request("trials", "GET", f"{page}trials?n={TRIALS_AHEAD}")
                held = {trial["id"] for trial in queue}
                queue += [trial for trial in json.loads(body)["trials"]
                          if trial["id"] not in held and trial["id"] not in settled]
            if not queue:
                break
            trial = queue.pop(0)
            settled.add(trial["id"])
            self.result.linked_images += sum(1 for url in [trial["query"], *trial["options"]]
                                             if url and "/img/" not in url)
            images = [(await self.request("image", "GET", url))[0] for url in [trial["query"], *trial["options"]]
                      if url]
            if any(status != 200 for status in images):  # as the runner does: never answered blind
                self.result.broken_images += 1
                await self.request("unavailable", "POST", f"{page}trials/{trial['id']}/unavailable")
                continue
            await asyncio.sleep(random.uniform(0.5, 1.5) * think_ms / 1000)
            answer = {"trial": trial["id"], "choice": 0, "rt_ms": 612.5, "idempotency_key": trial["id"],
                      "client_data": {"onset_ms": 10.0, "offset_ms": 210.0, "frame_ms": 16.7}}
            status, _, _ = await self.request("respond", "POST", f"{page}responses", json=answer)
            if status in (200, 201):  # stored now, or already stored by an earlier attempt
                self.result.acknowledged.append(trial["id"])
                self.result.acknowledged_at.append(time.perf_counter() - self.result.began)
        await self.request("finish", "POST", f"{page}finish")
        self.result.sessions.append((began, time.perf_counter() - self.result.began))


async def run(base: str, public_id: str, *, participants: int, think_ms: float,
              arrival_s: float = ARRIVAL_SPREAD_S) -> CrowdResult:
    result = CrowdResult(participants, began=time.perf_counter())
    connector = aiohttp.TCPConnector(limit=0)

    async def one(number: int) -> None:
        await asyncio.sleep(random.uniform(0, arrival_s))
        participant = Participant(base, number, result, connector)
        try:
            await participant.take_part(public_id, think_ms)
        except RuntimeError:
            result.unfinished += 1
        finally:
            await participant.session.close()

    await asyncio.gather(*(one(number) for number in range(1, participants + 1)))
    result.seconds = time.perf_counter() - result.began
    await connector.close()
    return result


async def saturate(url: str, *, seconds: float, concurrency: int = 32) -> float:
    """Successful GETs per second of ``url`` with ``concurrency`` clients and no pause."""
    done = 0
    deadline = time.perf_counter() + seconds
    async with aiohttp.ClientSession(timeout=TIMEOUT) as session:
        async def client():
            nonlocal done
            while time.perf_counter() < deadline:
                async with session.get(url) as response:
                    await response.read()
                    done += response.status == 200
        began = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(concurrency)))
        return done / (time.perf_counter() - began)
