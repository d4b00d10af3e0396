"""Writes for data protection (docs/data-protection.md): a participant withdraws (from their end page,
or later with their withdrawal code), a researcher erases a participant on request, and a study's
retention period removes recruitment ids. Each leaves a DataErasure row that names nobody.

Withdrawal and erasure delete the session with everything hanging from it (trials, answers, exclusion
decisions, what IRIS told Prolific about it), so scores, the report and the CSV exports no longer see
it; the report's cache key counts erasures (scoring.selectors.study_report_cached).
"""

import hashlib
import re
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from surveys.studies.models import Study
from surveys.trials import selectors
from surveys.trials.models import (
    ACTIVE_STATUSES,
    CODE_ALPHABET,
    CODE_GROUP_LENGTH,
    CODE_GROUPS,
    DataErasure,
    ErasureActor,
    ErasureScope,
    Participant,
    Response,
)

MAX_REASON_LENGTH = 1000
# Platform ids shorter than this are not looked for in a researcher's reason: a short one ("p1")
# would refuse ordinary words.
MIN_ID_LENGTH_CHECKED = 4
# What the retention period removes from client_info besides the recruitment ids: the browser's own
# description and time zone say something about the person; screen and calibration measures stay (the
# results use them).
IDENTIFYING_CLIENT_INFO = ("user_agent", "timezone")
# The platform parameters that belong to one person (the study's and the HIT's ids do not): a
# researcher's reason for an erasure must not hold them.
PERSONAL_PARAMS = ("PROLIFIC_PID", "SESSION_ID", "workerId", "assignmentId")
# What the code page's field shows before anything is typed: the code's shape, in no language.
CODE_PATTERN = "-".join(["X" * CODE_GROUP_LENGTH] * CODE_GROUPS)


class WithdrawalRefused(ValidationError):
    """This session cannot be withdrawn from here (it is still running, or never consented)."""


class UnknownWithdrawalCode(ValidationError):
    """No session has this code, and none was erased with it."""


def code_normal(code: str) -> str:
    """A code as typed (any case, spaces or dashes anywhere, O for 0, I or L for 1) in its stored
    form XXXX-XXXX-XXXX; "" when it cannot be one."""
    typed = re.sub(r"[\s-]", "", code.upper()).translate(str.maketrans("OIL", "011"))
    if len(typed) != CODE_GROUPS * CODE_GROUP_LENGTH or any(char not in CODE_ALPHABET for char in typed):
        return ""
    return "-".join(typed[i:i + CODE_GROUP_LENGTH] for i in range(0, len(typed), CODE_GROUP_LENGTH))


def _digest(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


def can_withdraw(participant: Participant) -> bool:
    """A participant withdraws once their session has ended and they had agreed to take part (before
    that nothing of theirs is stored but how they arrived; a researcher erases that on request)."""
    return participant.consented_at is not None and participant.status not in ACTIVE_STATUSES


def _erase(*, participant: Participant, actor: str, author=None, reason: str = "") -> DataErasure:
    """Delete the session (under its row lock: a second request finds it gone) and record that it was."""
    with transaction.atomic():
        locked = Participant.objects.select_for_update().filter(pk=participant.pk).first()
        if locked is None:  # erased meanwhile: the row that says so is the answer
            return _erased_with(participant.withdrawal_code)
        answers = Response.objects.filter(trial__participant=locked).count()
        entry = DataErasure.objects.create(study_id=locked.study_id, actor=actor, author=author,
                                           scope=ErasureScope.EVERYTHING, reason=reason, participants=1,
                                           responses=answers, code_digest=_digest(locked.withdrawal_code))
        locked.delete()
    return entry


def participant_withdraw(*, participant: Participant) -> DataErasure:
    """The participant withdraws from their end page: their session and every answer are deleted.
    Participants are never asked why. WithdrawalRefused while the session is still running."""
    if not can_withdraw(participant):
        raise WithdrawalRefused(gettext("This session can be withdrawn once it has ended."))
    return _erase(participant=participant, actor=ErasureActor.PARTICIPANT)


def withdrawal_by_code(*, code: str) -> tuple[DataErasure, bool]:
    """Withdraw the session this withdrawal code belongs to: (the record, True). The code of a session
    already withdrawn or erased gives that record and False, changing nothing. A code that is neither
    raises UnknownWithdrawalCode; one of a session still running, WithdrawalRefused."""
    normal = code_normal(code)
    participant = _participant_with(normal)
    if participant is not None:
        return participant_withdraw(participant=participant), True
    return _erased_with(normal), False


def withdrawal_language(*, code: str) -> str | None:
    """The language the code's participant read the study in (their version's), or for a session
    already erased with it the study's; None for a code of neither, whose page follows the browser."""
    normal = code_normal(code)
    participant = _participant_with(normal)
    if participant is not None:
        return selectors.participant_texts(participant=participant).language
    earlier = _erasure_with(normal)
    return earlier.study.language if earlier is not None else None


def _participant_with(code: str) -> Participant | None:
    """The session this code (in its stored form) belongs to."""
    return Participant.objects.select_related("study", "study_version").filter(withdrawal_code=code).first() if code else None


def _erasure_with(code: str) -> DataErasure | None:
    """The record of the session erased with this code (in its stored form)."""
    return DataErasure.objects.select_related("study").filter(code_digest=_digest(code)).first() if code else None


def _erased_with(code: str) -> DataErasure:
    """The record of the session erased with this code; UnknownWithdrawalCode if there is none."""
    earlier = _erasure_with(code)
    if earlier is not None:
        return earlier
    raise UnknownWithdrawalCode(gettext("No participation has this withdrawal code. Check it against the code you "
                                        "were shown: three groups of four letters and digits, like 7KQ2-M9XD-4TFA."))


def participant_erase(*, participant: Participant, author, reason: str) -> DataErasure:
    """A researcher erases a participant of their own study on request (a withdrawal by email, say):
    the session and every answer are deleted. The reason is kept and must not name the participant."""
    if participant.study.owner_id != author.pk:
        raise ValidationError("Only the study's owner may erase its participants.")
    reason = reason.strip()
    if not reason:
        raise ValidationError("Say why: an erasure needs a reason (e.g. the participant's request of a date).")
    if len(reason) > MAX_REASON_LENGTH:
        raise ValidationError(f"Keep the reason under {MAX_REASON_LENGTH} characters.")
    if _names_participant(reason, participant):
        raise ValidationError("The reason names the participant (it holds their recruitment id): the record of an "
                              "erasure must not. Describe the request without it.")
    return _erase(participant=participant, actor=ErasureActor.RESEARCHER, author=author, reason=reason)


def _names_participant(text: str, participant: Participant) -> bool:
    platform_id = participant.recruitment_id.split(":", 1)[-1]
    ids = [platform_id, *(str(participant.recruitment_data.get(key, "")) for key in PERSONAL_PARAMS)]
    lowered = text.lower()
    return any(len(value) >= MIN_ID_LENGTH_CHECKED and value.lower() in lowered for value in ids)


def identifiers_expire(*, study: Study, now: datetime | None = None) -> DataErasure | None:
    """Past the study's retention period, remove each ended session's recruitment ids (and the
    browser's description) and keep its answers, anonymous; one record for the sessions done now, or
    None when there were none (or the study keeps ids). Running it again changes nothing."""
    if study.retention_days is None:
        return None
    cutoff = (now or timezone.now()) - timedelta(days=study.retention_days)
    due = (Participant.objects.filter(study=study, created_at__lt=cutoff, identifiers_erased_at__isnull=True)
           .exclude(status__in=ACTIVE_STATUSES))
    with transaction.atomic():
        done = [_identifiers_remove(participant) for participant in due.select_for_update()]
        if not done:
            return None
        return DataErasure.objects.create(study=study, actor=ErasureActor.RETENTION, scope=ErasureScope.IDENTIFIERS,
                                          reason=f"Retention period of {study.retention_days} days",
                                          participants=len(done))


def _identifiers_remove(participant: Participant) -> int:
    participant.recruitment_id = f"erased:{participant.pk}"  # unique in the study, as the constraint wants
    participant.recruitment_data = {}
    participant.arrival_key = ""
    participant.client_info = {key: value for key, value in participant.client_info.items()
                               if key not in IDENTIFYING_CLIENT_INFO}
    participant.identifiers_erased_at = timezone.now()
    participant.save(update_fields=["recruitment_id", "recruitment_data", "arrival_key", "client_info",
                                    "identifiers_erased_at"])
    return participant.pk


def retention_apply(*, now: datetime | None = None) -> list[DataErasure]:
    """identifiers_expire for every study with a retention period: what `manage.py iris_retention` runs."""
    studies = Study.objects.filter(retention_days__isnull=False).order_by("pk")
    return [entry for study in studies if (entry := identifiers_expire(study=study, now=now)) is not None]
