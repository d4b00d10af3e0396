"""Recognising where a participant came from, by the parameters each platform adds to the link."""

import secrets
from dataclasses import dataclass

from django.utils.translation import gettext_lazy

from surveys.common.specs import printable
from surveys.trials.models import RecruitmentSource

PROLIFIC_PARAMS = ("PROLIFIC_PID", "STUDY_ID", "SESSION_ID")
MTURK_PARAMS = ("workerId", "assignmentId", "hitId", "turkSubmitTo")
MAX_ID_LENGTH = 128


@dataclass(frozen=True)
class Recruitment:
    source: str
    recruitment_id: str
    data: dict


def recruitment_from_params(params) -> Recruitment:
    """Prolific and MTurk ids are kept as given; a plain link gets a fresh id of its own."""
    prolific_id = _param(params, "PROLIFIC_PID").strip()
    if prolific_id:
        data = {key: _param(params, key) for key in PROLIFIC_PARAMS}
        return Recruitment(RecruitmentSource.PROLIFIC, f"prolific:{prolific_id}", data)
    worker_id = _param(params, "workerId").strip()
    if worker_id:
        data = {key: _param(params, key) for key in MTURK_PARAMS}
        return Recruitment(RecruitmentSource.MTURK, f"mturk:{worker_id}", data)
    return Recruitment(RecruitmentSource.PLAIN, f"plain:{secrets.token_hex(8)}", {})


def _param(params, key: str) -> str:
    """A platform parameter as stored: at most MAX_ID_LENGTH printable characters."""
    return printable(params.get(key, ""), limit=MAX_ID_LENGTH)


def link_params(params) -> dict:
    """The platform parameters worth carrying through the start page's form."""
    return {key: params[key] for key in (*PROLIFIC_PARAMS, *MTURK_PARAMS) if key in params}


MTURK_PREVIEW_ASSIGNMENT = "ASSIGNMENT_ID_NOT_AVAILABLE"
# MTurk posts results back only to its own hosts; anything else in turkSubmitTo is ignored.
MTURK_SUBMIT_HOSTS = ("https://www.mturk.com", "https://workersandbox.mturk.com")


def is_mturk_preview(params) -> bool:
    """MTurk shows the HIT to workers who have not accepted it yet: no session may start."""
    return params.get("assignmentId", "") == MTURK_PREVIEW_ASSIGNMENT


@dataclass(frozen=True)
class Outcome:
    """How a session ended, and what the participant takes back to the platform."""

    status: str
    title: str
    message: str
    code: str
    redirect_url: str  # "" when the platform wants no redirect
    mturk_submit_url: str  # "" unless MTurk: the external-submit form's action
    mturk_assignment_id: str
    detail: str = ""  # why a device was turned away, in the participant's words


# The reasons the page may give for turning a device away (it sends the key; the text is ours). The
# runner shows them too (runner_text.py); both in the study's language.
REFUSALS = {
    "window": gettext_lazy("The browser window is too small."),
    "phone": gettext_lazy("This study cannot be done on a phone or tablet; please use a computer."),
    "slow_refresh": gettext_lazy("This screen refreshes too slowly for the study's brief images."),
    "irregular_refresh": gettext_lazy("This screen does not refresh regularly enough for the study's brief images "
                                      "(closing other programs and tabs may help)."),
}


OUTCOME_TEXT = {
    "completed": (gettext_lazy("Thank you!"), gettext_lazy("You have finished the study.")),
    "declined": (gettext_lazy("Thank you"), gettext_lazy("You chose not to take part.")),
    "failed_gate": (gettext_lazy("Thank you"), gettext_lazy("Your answers to the first trials did not meet the "
                                                            "study's criterion, so the study ends here.")),
    "incompatible": (gettext_lazy("Sorry"),
                     gettext_lazy("This device or window cannot show the study as it needs to be shown.")),
}


def outcome_for(participant) -> Outcome:
    """How the session ended, its words in the active language (the participant views use the study's)."""
    study = participant.study
    code = {"completed": study.completion_code, "declined": study.code_no_consent,
            "failed_gate": study.code_failed_gate, "incompatible": study.code_incompatible}[participant.status]
    title, message = OUTCOME_TEXT[participant.status]
    redirect_url = ""
    if study.completion_url and participant.source != RecruitmentSource.MTURK and not participant.is_pilot:
        redirect_url = study.completion_url.replace("{code}", code)
    submit_to = participant.recruitment_data.get("turkSubmitTo", "").rstrip("/")
    mturk_url = f"{submit_to}/mturk/externalSubmit" if submit_to in MTURK_SUBMIT_HOSTS else ""
    refused = participant.client_info.get("device", {}).get("refused") if participant.status == "incompatible" else None
    return Outcome(participant.status, str(title), str(message), code, redirect_url, mturk_url,
                   participant.recruitment_data.get("assignmentId", ""), detail=str(REFUSALS.get(refused, "")))
