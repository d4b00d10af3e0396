"""The Prolific API client: the only module of IRIS that talks to Prolific (docs/prolific.md).

Contract, from Prolific's documented API v1 (base ``https://api.prolific.com/api/v1``; every request
carries the header ``Authorization: Token <token>``; JSON in, JSON out):

- ``POST /studies/`` creates a draft study. IRIS sends ``name``, ``internal_name``, ``description``,
  ``external_study_url`` (IRIS's participant link with ``PROLIFIC_PID={{%PROLIFIC_PID%}}``,
  ``STUDY_ID={{%STUDY_ID%}}`` and ``SESSION_ID={{%SESSION_ID%}}``), ``prolific_id_option``
  (``"url_parameters"``), ``completion_codes`` (a list of ``{"code", "code_type", "actions":
  [{"action": "MANUALLY_REVIEW"}]}``), ``total_available_places``, ``reward`` (in cents of the
  workspace's currency) and ``estimated_completion_time`` (minutes). The answer's ``id`` is the
  Prolific study id; ``status`` is ``"UNPUBLISHED"``.
- ``POST /studies/<id>/transition/`` with ``{"action": "PUBLISH"}`` publishes it (``"ACTIVE"``); with
  ``{"action": "STOP"}`` it stops taking participants for good (``"AWAITING REVIEW"`` while
  submissions await review, else ``"COMPLETED"``): a stopped study is never restarted.
- ``PATCH /studies/<id>/`` with ``{"total_available_places": n}`` changes its places; once the study
  is published, places can only be raised.
- ``GET /studies/<id>/submissions/`` lists its submissions: ``{"results": [...]}``, each with ``id``
  (the submission id, which Prolific passes to IRIS as ``SESSION_ID``), ``participant_id`` and
  ``status`` (``ACTIVE``, ``AWAITING REVIEW``, ``APPROVED``, ``REJECTED``, ``RETURNED``, ``TIMED-OUT``).
- ``POST /submissions/<id>/transition/`` with ``{"action": "APPROVE"}``, or ``{"action": "REJECT",
  "message", "rejection_category"}``: the message is shown to the participant and must be at least
  100 characters; the category is one of ``REJECTION_CATEGORIES``. Prolific ignores a repeated
  transition; a transition cannot be undone.
- ``POST /submissions/bonus-payments/`` with ``{"study_id", "csv_bonuses"}`` (lines of
  ``<participant_id or submission_id>,<amount>`` in the study's currency, e.g. ``1.50``) sets up a
  bulk bonus payment; its answer's ``id`` is then paid with ``POST /bulk-bonus-payments/<id>/pay/``,
  which is NOT idempotent: each call pays again.

Every failure (an HTTP error status, or no answer at all) raises ``ProlificError`` with the status
(0 without an answer) and Prolific's own message. No Django here: callers pass the base URL and token.
"""

from dataclasses import dataclass
from decimal import Decimal

import requests

DEFAULT_BASE_URL = "https://api.prolific.com/api/v1"
TIMEOUT_S = 30
AWAITING_REVIEW = "AWAITING REVIEW"
REJECTION_CATEGORIES = ("TOO_QUICKLY", "TOO_SLOWLY", "FAILED_INSTRUCTIONS", "INCOMP_LONGITUDINAL", "FAILED_CHECK",
                        "LOW_EFFORT", "MALINGERING", "NO_CODE", "BAD_CODE", "NO_DATA", "UNSUPP_DEVICE", "OTHER")
MIN_REJECTION_MESSAGE = 100


class ProlificError(Exception):
    """Prolific refused a request, or could not be reached (status 0)."""

    def __init__(self, status: int, message: str):
        super().__init__(f"Prolific answered {status}: {message}" if status else f"Prolific unreachable: {message}")
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Submission:
    id: str
    participant_id: str
    status: str


def _message(response: requests.Response) -> str:
    """Prolific's own words: its ``error.detail`` (or ``detail``/``title``), else the body's start."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:300] or response.reason
    error = body.get("error", body) if isinstance(body, dict) else body
    if isinstance(error, dict):
        for key in ("detail", "title", "message"):
            if error.get(key):
                return str(error[key])
    return str(error)[:300]


class ProlificClient:
    def __init__(self, *, token: str, base_url: str = DEFAULT_BASE_URL):
        self.base_url = base_url.rstrip("/")
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Token {token}"

    def _call(self, method: str, path: str, body: dict | None = None) -> dict:
        try:
            response = self.session.request(method, f"{self.base_url}{path}", json=body, timeout=TIMEOUT_S)
        except requests.RequestException as error:
            raise ProlificError(0, str(error)) from None
        if response.status_code >= 400:
            raise ProlificError(response.status_code, _message(response))
        return response.json() if response.content else {}

    def study_create(self, *, fields: dict) -> dict:
        """A draft study; ``fields`` as listed in this module's contract."""
        return self._call("POST", "/studies/", fields)

    def study_publish(self, *, study_id: str) -> dict:
        return self._call("POST", f"/studies/{study_id}/transition/", {"action": "PUBLISH"})

    def study_stop(self, *, study_id: str) -> dict:
        return self._call("POST", f"/studies/{study_id}/transition/", {"action": "STOP"})

    def study_places_set(self, *, study_id: str, places: int) -> dict:
        return self._call("PATCH", f"/studies/{study_id}/", {"total_available_places": places})

    def submissions_list(self, *, study_id: str) -> list[Submission]:
        results = self._call("GET", f"/studies/{study_id}/submissions/").get("results", [])
        return [Submission(str(row["id"]), str(row.get("participant_id", "")), str(row.get("status", "")))
                for row in results]

    def submission_approve(self, *, submission_id: str) -> dict:
        return self._call("POST", f"/submissions/{submission_id}/transition/", {"action": "APPROVE"})

    def submission_reject(self, *, submission_id: str, message: str, category: str) -> dict:
        if category not in REJECTION_CATEGORIES:
            raise ValueError(f"Unknown rejection category {category!r}.")
        if len(message) < MIN_REJECTION_MESSAGE:
            raise ValueError(f"A rejection message needs at least {MIN_REJECTION_MESSAGE} characters.")
        return self._call("POST", f"/submissions/{submission_id}/transition/",
                          {"action": "REJECT", "message": message, "rejection_category": category})

    def bonuses_pay(self, *, study_id: str, amounts: dict[str, Decimal]) -> dict:
        """Set up one bulk bonus payment (submission or participant id -> amount) and pay it, once."""
        csv = "".join(f"{who},{amount:.2f}\n" for who, amount in amounts.items())
        bulk = self._call("POST", "/submissions/bonus-payments/", {"study_id": study_id, "csv_bonuses": csv})
        self._call("POST", f"/bulk-bonus-payments/{bulk['id']}/pay/")
        return bulk
