"""A local stand-in for the parts of Prolific's API v1 that IRIS uses (surveys/common/prolific.py has
the contract), so the Prolific flow runs end to end with no network.

It keeps studies, submissions, transitions and bonuses in memory, answers with the documented
shapes, and refuses what Prolific refuses: a wrong ``Authorization: Token`` header (401), a
transition of a submission that is not awaiting review (400), a rejection without its message
(at least 100 characters) or category (400), publishing a published study or stopping one that is
not running (400), fewer places for a published study (400), an unknown id (404). ``transitions``
records every submission transition it applied, in order, so a test can see who was approved or
rejected and why; ``study_transitions`` the same for studies (published, stopped).
"""

import itertools
import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PREFIX = "/api/v1"
RESEARCHER_TOKEN = "prolific-token-of-the-researcher-0123456789"  # the token the tests' researcher saves
REJECTION_CATEGORIES = {"TOO_QUICKLY", "TOO_SLOWLY", "FAILED_INSTRUCTIONS", "INCOMP_LONGITUDINAL", "FAILED_CHECK",
                        "LOW_EFFORT", "MALINGERING", "NO_CODE", "BAD_CODE", "NO_DATA", "UNSUPP_DEVICE", "OTHER"}
STUDY_FIELDS = {"name", "description", "external_study_url", "total_available_places", "reward",
                "estimated_completion_time", "completion_codes"}


class Refused(Exception):
    def __init__(self, status: int, detail: str):
        super().__init__(detail)
        self.status, self.detail = status, detail


@dataclass
class FakeProlific:
    token: str
    studies: dict = field(default_factory=dict)
    submissions: dict = field(default_factory=dict)
    transitions: list = field(default_factory=list)  # (submission id, body) for each applied transition
    study_transitions: list = field(default_factory=list)  # (study id, action) for each applied one
    bonuses: dict = field(default_factory=dict)
    paid: list = field(default_factory=list)
    failing: set = field(default_factory=set)  # submission ids whose transition answers 503 (an outage)
    ids: itertools.count = field(default_factory=lambda: itertools.count(1))

    def submission_add(self, *, study_id: str, submission_id: str, participant_id: str,
                       status: str = "AWAITING REVIEW") -> None:
        """A participant who took the study on Prolific (the test plays Prolific's side)."""
        self.submissions[submission_id] = {"id": submission_id, "participant_id": participant_id,
                                           "study_id": study_id, "status": status}

    # The routes: (method, path pattern, handler).
    def route(self, method: str, path: str, body: dict) -> tuple[int, dict]:
        for verb, pattern, handler in self.ROUTES:
            found = re.fullmatch(pattern, path)
            if verb == method and found:
                return handler(self, body, *found.groups())
        raise Refused(404, f"No route {method} {path}.")

    def _study(self, study_id: str) -> dict:
        if study_id not in self.studies:
            raise Refused(404, "Study not found.")
        return self.studies[study_id]

    def study_create(self, body: dict) -> tuple[int, dict]:
        missing = sorted(STUDY_FIELDS - set(body))
        if missing:
            raise Refused(400, f"Missing fields: {', '.join(missing)}.")
        if "{{%PROLIFIC_PID%}}" not in body["external_study_url"]:
            raise Refused(400, "external_study_url must carry {{%PROLIFIC_PID%}}.")
        study_id = f"study{next(self.ids):04d}"
        self.studies[study_id] = {**body, "id": study_id, "status": "UNPUBLISHED"}
        return 201, self.studies[study_id]

    # action -> (the statuses it may leave, the status it reaches); STOP's depends on the submissions.
    TRANSITIONS = {"PUBLISH": ({"UNPUBLISHED"}, "ACTIVE"), "STOP": ({"ACTIVE", "PAUSED"}, None)}

    def study_transition(self, body: dict, study_id: str) -> tuple[int, dict]:
        study = self._study(study_id)
        allowed, reached = self.TRANSITIONS.get(body.get("action"), (set(), None))
        if study["status"] not in allowed:
            raise Refused(400, f"Cannot {body.get('action')} a study that is {study['status']}.")
        awaiting = any(row["study_id"] == study_id and row["status"] == "AWAITING REVIEW"
                       for row in self.submissions.values())
        study["status"] = reached or ("AWAITING REVIEW" if awaiting else "COMPLETED")
        self.study_transitions.append((study_id, body.get("action")))
        return 200, study

    def study_update(self, body: dict, study_id: str) -> tuple[int, dict]:
        study = self._study(study_id)
        places = body.get("total_available_places", study["total_available_places"])
        if study["status"] != "UNPUBLISHED" and places < study["total_available_places"]:
            raise Refused(400, "The places of a published study can only be increased.")
        study["total_available_places"] = places
        return 200, study

    def submissions_list(self, body: dict, study_id: str) -> tuple[int, dict]:
        self._study(study_id)
        rows = [dict(row) for row in self.submissions.values() if row["study_id"] == study_id]
        return 200, {"results": rows, "meta": {"count": len(rows)}}

    def submission_transition(self, body: dict, submission_id: str) -> tuple[int, dict]:
        submission = self.submissions.get(submission_id)
        if submission is None:
            raise Refused(404, "Submission not found.")
        if submission_id in self.failing:
            raise Refused(503, "Service temporarily unavailable.")
        if submission["status"] != "AWAITING REVIEW":
            raise Refused(400, f"The submission is {submission['status']}, not awaiting review.")
        action = body.get("action")
        if action == "REJECT" and (len(body.get("message", "")) < 100
                                   or body.get("rejection_category") not in REJECTION_CATEGORIES):
            raise Refused(400, "A rejection needs a message of 100 characters or more and a rejection_category.")
        if action not in {"APPROVE", "REJECT"}:
            raise Refused(400, f"Unknown action {action!r}.")
        submission["status"] = "APPROVED" if action == "APPROVE" else "REJECTED"
        self.transitions.append((submission_id, body))
        return 200, submission

    def bonus_create(self, body: dict) -> tuple[int, dict]:
        study = self._study(body.get("study_id", ""))
        lines = [line.split(",") for line in body.get("csv_bonuses", "").splitlines() if line]
        if not lines or any(who not in self.submissions for who, _ in lines):
            raise Refused(400, "Every bonus must name a submission of this study.")
        bonus_id = f"bonus{next(self.ids):04d}"
        self.bonuses[bonus_id] = {"id": bonus_id, "study": study["id"], "lines": lines,
                                  "total_amount": sum(round(float(amount) * 100) for _, amount in lines)}
        return 201, self.bonuses[bonus_id]

    def bonus_pay(self, body: dict, bonus_id: str) -> tuple[int, dict]:
        if bonus_id not in self.bonuses:
            raise Refused(404, "Bonus payment not found.")
        self.paid.append(bonus_id)
        return 202, {}

    ROUTES = [("POST", r"/studies/", study_create),
              ("POST", r"/studies/([^/]+)/transition/", study_transition),
              ("PATCH", r"/studies/([^/]+)/", study_update),
              ("GET", r"/studies/([^/]+)/submissions/", submissions_list),
              ("POST", r"/submissions/bonus-payments/", bonus_create),
              ("POST", r"/submissions/([^/]+)/transition/", submission_transition),
              ("POST", r"/bulk-bonus-payments/([^/]+)/pay/", bonus_pay)]


def _handler(fake: FakeProlific, lock: threading.Lock):
    class Handler(BaseHTTPRequestHandler):
        def _answer(self, status: int, body: dict) -> None:
            payload = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            try:
                if self.headers.get("Authorization") != f"Token {fake.token}":
                    raise Refused(401, "Invalid token.")
                if not self.path.startswith(PREFIX):
                    raise Refused(404, "Not an API v1 path.")
                body = json.loads(self.rfile.read(length) or b"{}") if length else {}
                with lock:
                    status, answer = fake.route(self.command, self.path[len(PREFIX):], body)
                self._answer(status, answer)
            except Refused as refused:
                self._answer(refused.status, {"error": {"status": refused.status, "detail": refused.detail}})

        do_GET = do_POST = do_PATCH = _serve

        def log_message(self, *args) -> None:
            pass  # quiet tests

    return Handler


class FakeProlificServer:
    """The fake on a free local port in a background thread; ``url`` is its API v1 base."""

    def __init__(self, *, token: str):
        self.fake = FakeProlific(token=token)
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self.fake, threading.Lock()))
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}{PREFIX}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> FakeProlific:
        self.thread.start()
        return self.fake

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)
