"""A bot floods the participant API through the deployment's own front server (docker/nginx.conf, run
by the load test's harness, with a stand-in web service that counts what reaches it). In the compose
stack the front server counts participants' rate limits itself (IRIS_RATE_LIMITS_AT_FRONT): one
session's flood is cut to its burst and answered 429 with Retry-After, never reaching Python, while
another participant at the same address is served; made-up tokens from one address are bounded by
the address's limit."""

import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

pytestmark = pytest.mark.timeout(120)

SESSION_BURST = 60  # docker/nginx.conf: limit_req zone=iris_session burst=60
ADDRESS_BURST = 1000  # limit_req zone=iris_address burst=1000
ADDRESS_RATE = 200  # limit_req_zone ... zone=iris_address rate=200r/s


class CountingWebService(ThreadingHTTPServer):
    """Stands in for gunicorn: answers 200 and counts the paths that got through."""

    def __init__(self):
        self.reached = Counter()
        service = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                service.reached[self.path] += 1
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args):
                pass

        super().__init__(("127.0.0.1", 0), Handler)


@pytest.fixture
def front(tmp_path):
    from bench.loadtest import Front

    service = CountingWebService()
    threading.Thread(target=service.serve_forever, daemon=True).start()
    tmp_path.chmod(0o755)
    try:
        with Front(service.server_address[1], static_root=tmp_path, media_root=tmp_path, scratch=tmp_path) as nginx:
            yield nginx.url, service
    finally:
        service.shutdown()


def status(url: str, *, address: str) -> tuple[int, str | None]:
    # The harness keys the address limit on X-Forwarded-For (its crowd is one machine); the deployment
    # keys it on the connection's own address.
    request = urllib.request.Request(url, headers={"X-Forwarded-For": address})
    try:
        with urllib.request.urlopen(request, timeout=10) as reply:
            return reply.status, reply.headers.get("Retry-After")
    except urllib.error.HTTPError as refused:
        return refused.code, refused.headers.get("Retry-After")


def test_one_sessions_flood_is_cut_at_the_front_and_its_neighbour_is_still_served(front):
    url, service = front
    flood = Counter(status(f"{url}/p/bot-token/trials", address="10.0.0.7") for _ in range(SESSION_BURST + 40))
    neighbour = status(f"{url}/p/next-desk-token/trials", address="10.0.0.7")

    assert flood[(429, "1")] >= 30  # the runner waits Retry-After and tries again (static/iris/outbox.js)
    assert service.reached["/p/bot-token/trials"] <= SESSION_BURST + 5  # the rest never reached Python
    assert neighbour == (200, None)


def test_made_up_tokens_from_one_address_are_bounded_by_the_addresss_limit(front):
    url, service = front
    with ThreadPoolExecutor(8) as pool:  # as fast as one machine can: the address's budget refills at 200/s
        began = time.monotonic()
        answers = Counter(pool.map(lambda n: status(f"{url}/p/made-up-{n}/trials", address="10.0.0.9")[0],
                                   range(3 * ADDRESS_BURST)))
        seconds = time.monotonic() - began
    elsewhere = status(f"{url}/p/someone-else/trials", address="10.0.0.10")

    assert answers[429] > 0
    assert sum(service.reached.values()) <= ADDRESS_BURST + ADDRESS_RATE * seconds + 10
    assert elsewhere == (200, None)


def test_static_files_and_the_withdrawal_page_share_no_session_budget(front):
    url, service = front
    withdrawals = Counter(status(f"{url}/p/withdraw/", address=f"10.0.1.{n}")[0] for n in range(SESSION_BURST + 10))

    assert withdrawals == {200: SESSION_BURST + 10}  # /p/withdraw/ is no session's token
