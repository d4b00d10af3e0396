"""Writes for Prolific (docs/prolific.md): a researcher's encrypted token, a study's Prolific draft,
its publication, places and stop, and the review of its submissions from the exclusion decisions.

Every call to Prolific goes through surveys/common/prolific.py; its ProlificError reaches the caller.
"""

from collections.abc import Collection
from dataclasses import dataclass
from decimal import Decimal

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from surveys.common.prolific import AWAITING_REVIEW, ProlificClient, ProlificError
from surveys.scoring.models import (
    ProlificAccount,
    ProlificReview,
    ProlificStudy,
    ProlificStudyStatus,
    ProlificVerdict,
)
from surveys.scoring.selectors import study_exclusions
from surveys.studies.models import Study
from surveys.trials.models import Participant, ParticipantStatus, RecruitmentSource
from surveys.trials.selectors import study_places

URL_PARAMETERS = "PROLIFIC_PID={{%PROLIFIC_PID%}}&STUDY_ID={{%STUDY_ID%}}&SESSION_ID={{%SESSION_ID%}}"
# Which of Prolific's rejection categories each exclusion rule's reason falls in (exclusions.py words them).
_CATEGORIES = (("catch accuracy", "FAILED_CHECK"), ("qualification gate", "FAILED_CHECK"),
               ("median response time", "TOO_QUICKLY"), ("one-sided responding", "LOW_EFFORT"))
_REJECTION_PREAMBLE = ("Thank you for taking part. Your submission did not meet the data quality criteria "
                       "this study set in advance, so it cannot be approved. The reason: ")


def _fernet() -> Fernet:
    if not settings.IRIS_PROLIFIC_KEY:
        raise ValidationError("IRIS cannot store Prolific tokens: IRIS_PROLIFIC_KEY is not set. "
                              "Ask whoever runs IRIS to set it (docs/prolific.md).")
    return Fernet(settings.IRIS_PROLIFIC_KEY.encode())


def prolific_token_set(*, owner, token: str) -> ProlificAccount:
    """Store (or replace) a researcher's Prolific token, encrypted."""
    token = token.strip()
    if not token:
        raise ValidationError("Paste your Prolific API token.")
    encrypted = _fernet().encrypt(token.encode()).decode()
    account, _ = ProlificAccount.objects.update_or_create(owner=owner, defaults={"token_encrypted": encrypted})
    return account


def _client(*, owner) -> ProlificClient:
    account = ProlificAccount.objects.filter(owner=owner).first()
    if account is None:
        raise ValidationError("You have no Prolific token in IRIS: add yours under Scoring > Prolific tokens.")
    try:
        token = _fernet().decrypt(account.token_encrypted.encode()).decode()
    except InvalidToken:
        raise ValidationError("Your Prolific token can no longer be read (IRIS_PROLIFIC_KEY changed): "
                              "save it again.") from None
    return ProlificClient(token=token, base_url=settings.IRIS_PROLIFIC_URL)


def _completion_codes(study: Study) -> list[dict]:
    """IRIS's end codes as Prolific completion codes, each left for IRIS's review."""
    kinds = [(study.completion_code, "COMPLETED"), (study.code_failed_gate, "FAILED_ATTENTION_CHECK"),
             (study.code_no_consent, "NO_CONSENT"), (study.code_incompatible, "INCOMPATIBLE_DEVICE")]
    codes, seen = [], set()
    for code, code_type in kinds:
        if code and code not in seen:
            seen.add(code)
            codes.append({"code": code, "code_type": code_type, "actions": [{"action": "MANUALLY_REVIEW"}]})
    return codes


# A design without a cap: a first batch; the stopping rule's checks raise it (prolific_places_follow).
UNCAPPED_PLACES = 10


def _planned_places(study: Study) -> int:
    """The participants the design's cap admits (each takes part in every condition), else UNCAPPED_PLACES."""
    return study_places(study=study) or UNCAPPED_PLACES


def prolific_draft_create(*, study: Study, study_url: str, reward_cents: int = 150, minutes: int = 10,
                          places: int | None = None) -> ProlificStudy:
    """A draft Prolific study that sends participants to ``study_url`` with Prolific's parameters.
    The owner's token row stays locked meanwhile, so two clicks make one draft, not two (the study row
    is left alone: participants entering lock it, and Prolific may take its time)."""
    with transaction.atomic():
        ProlificAccount.objects.select_for_update().filter(owner=study.owner).first()
        if ProlificStudy.objects.filter(study=study).exists():
            raise ValidationError(f"{study} already has a Prolific study.")
        return _draft_make(study=study, study_url=study_url, reward_cents=reward_cents, minutes=minutes,
                           places=places)


def _draft_make(*, study: Study, study_url: str, reward_cents: int, minutes: int, places: int | None) -> ProlificStudy:
    places = places or _planned_places(study)
    separator = "&" if "?" in study_url else "?"
    made = _client(owner=study.owner).study_create(fields={
        "name": study.name, "internal_name": f"IRIS study {study.pk}: {study.name}",
        "description": f"A short study on how images look ({study.name}).",
        "external_study_url": f"{study_url}{separator}{URL_PARAMETERS}", "prolific_id_option": "url_parameters",
        "completion_codes": _completion_codes(study), "total_available_places": places,
        "reward": reward_cents, "estimated_completion_time": minutes})
    return ProlificStudy.objects.create(study=study, prolific_id=str(made["id"]), places=places,
                                        reward_cents=reward_cents, minutes=minutes)


def _linked(study: Study) -> ProlificStudy:
    linked = ProlificStudy.objects.filter(study=study).first()
    if linked is None:
        raise ValidationError(f"{study} has no Prolific study yet: create the draft first.")
    return linked


def prolific_publish(*, study: Study) -> ProlificStudy:
    linked = _linked(study)
    if linked.status == ProlificStudyStatus.PUBLISHED:
        return linked
    _client(owner=study.owner).study_publish(study_id=linked.prolific_id)
    linked.status, linked.published_at = ProlificStudyStatus.PUBLISHED, timezone.now()
    linked.save(update_fields=["status", "published_at"])
    return linked


def prolific_places_set(*, study: Study, places: int) -> ProlificStudy:
    """Set the places of the study's Prolific study (a published one's can only be raised: Prolific refuses)."""
    if places < 1:
        raise ValidationError("A Prolific study needs at least one place.")
    return _places_send(_linked(study), places=places)


def _places_send(linked: ProlificStudy, *, places: int) -> ProlificStudy:
    _client(owner=linked.study.owner).study_places_set(study_id=linked.prolific_id, places=places)
    linked.places = places
    linked.save(update_fields=["places"])
    return linked


# Sessions that end with a code of their own: Prolific counts each as a submission holding a place.
_UNUSABLE_ENDS = (ParticipantStatus.FAILED_GATE, ParticipantStatus.INCOMPATIBLE, ParticipantStatus.DECLINED)


def prolific_places_for(*, study: Study, usable: int, excluded: Collection[int]) -> int:
    """The Prolific places that bring ``usable`` usable participants. Prolific counts every submission
    that holds a place, so the study's Prolific sessions IRIS cannot use (excluded, failed the gate,
    incompatible device, declined) are added, unless IRIS rejected them there (a rejection frees the place)."""
    sessions = (Participant.objects.filter(study=study, is_pilot=False, source=RecruitmentSource.PROLIFIC)
                .exclude(prolific_review__verdict=ProlificVerdict.REJECTED))
    return usable + sessions.filter(Q(pk__in=list(excluded)) | Q(status__in=_UNUSABLE_ENDS)).count()


def prolific_places_follow(*, study: Study, places: int) -> ProlificStudy | None:
    """Keep the Prolific study's places in step with what the stopping rule still wants: a draft's are
    set, a published study's only ever raised (Prolific refuses fewer), a stopped study's left alone.
    None when the study has no Prolific study. Under a lock on its row, so checks take turns."""
    with transaction.atomic():
        linked = ProlificStudy.objects.select_for_update().select_related("study__owner").filter(study=study).first()
        if linked is None:
            return None
        raise_only = linked.status == ProlificStudyStatus.PUBLISHED
        if linked.status == ProlificStudyStatus.STOPPED or places < 1 or places == linked.places or (
                raise_only and places < linked.places):
            return linked
        return _places_send(linked, places=places)


def prolific_stop(*, study: Study) -> ProlificStudy | None:
    """Stop the study's published Prolific study, for good (Prolific never restarts a stopped study);
    a draft recruits nobody and is left as it is. None when the study has no Prolific study."""
    with transaction.atomic():
        linked = ProlificStudy.objects.select_for_update().select_related("study__owner").filter(study=study).first()
        if linked is None or linked.status != ProlificStudyStatus.PUBLISHED:
            return linked
        _client(owner=study.owner).study_stop(study_id=linked.prolific_id)
        linked.status = ProlificStudyStatus.STOPPED
        linked.save(update_fields=["status"])
        return linked


@dataclass(frozen=True)
class ReviewOutcome:
    approved: int
    rejected: int
    left: int  # submissions IRIS does not decide: not completed in IRIS, pilots, unknown, or reviewed before


def _category(reason: str) -> str:
    return next((category for words, category in _CATEGORIES if words in reason), "OTHER")


def _rejection(decision) -> tuple[str, str]:
    """(message for the participant, category): the rule's reason, or a researcher's decision."""
    reason = decision.reason or "the researcher excluded this submission after reviewing its data"
    return f"{_REJECTION_PREAMBLE}{reason}.", _category(reason)


def _submission_owners(study: Study) -> dict[tuple[str, str], int]:
    """(submission id, Prolific participant id) -> participant id, for participants not reviewed yet.
    Both must match: a link carrying someone else's SESSION_ID decides nothing about their submission."""
    rows = (Participant.objects.filter(study=study, prolific_review__isnull=True)
            .values_list("pk", "recruitment_data"))
    return {(str(data.get("SESSION_ID")), str(data.get("PROLIFIC_PID"))): pk for pk, data in rows
            if data.get("SESSION_ID") and data.get("PROLIFIC_PID")}


def _review_one(client, submission, decision, *, study: Study, author) -> ProlificReview:
    review = ProlificReview(participant_id=decision.participant_id, study=study, author=author,
                            submission_id=submission.id, verdict=ProlificVerdict.APPROVED)
    if decision.excluded:
        message, category = _rejection(decision)
        client.submission_reject(submission_id=submission.id, message=message, category=category)
        review.verdict, review.reason, review.rejection_category = ProlificVerdict.REJECTED, message, category
    else:
        client.submission_approve(submission_id=submission.id)
    review.save()
    return review


def prolific_review(*, study: Study, author) -> ReviewOutcome:
    """Approve the awaiting submissions whose participants the exclusion decisions keep; reject the
    excluded with the rule's reason. A row per participant records it, so a second run repeats nothing.

    Reviews of one study run one at a time (a lock on its Prolific row). If Prolific refuses midway,
    what it already accepted stays recorded and the refusal is raised after."""
    client = _client(owner=study.owner)
    counts = {ProlificVerdict.APPROVED: 0, ProlificVerdict.REJECTED: 0}
    left, failure = 0, None
    with transaction.atomic():
        linked = ProlificStudy.objects.select_for_update().filter(study=study).first() or _linked(study)
        decisions = {d.participant_id: d for d in study_exclusions(study=study)}  # completed, non-pilot only
        owners = _submission_owners(study)
        for submission in client.submissions_list(study_id=linked.prolific_id):
            decision = decisions.get(owners.get((submission.id, submission.participant_id)))
            if submission.status != AWAITING_REVIEW or decision is None:
                left += 1
                continue
            try:
                counts[_review_one(client, submission, decision, study=study, author=author).verdict] += 1
            except ProlificError as error:
                failure = error
                break
    if failure is not None:
        raise failure
    return ReviewOutcome(counts[ProlificVerdict.APPROVED], counts[ProlificVerdict.REJECTED], left)


def prolific_bonuses_pay(*, study: Study, amounts: dict[int, Decimal]) -> str:
    """Pay bonuses (participant id -> amount in the study's currency) through one bulk payment;
    returns Prolific's bulk payment id. Paying is not idempotent on Prolific: call once per bonus."""
    linked = _linked(study)
    sessions = dict(Participant.objects.filter(study=study, pk__in=amounts).values_list("pk", "recruitment_data"))
    missing = sorted(pk for pk in amounts if not sessions.get(pk, {}).get("SESSION_ID"))
    if missing:
        raise ValidationError(f"No Prolific submission for participants {missing}.")
    by_submission = {sessions[pk]["SESSION_ID"]: Decimal(amount) for pk, amount in amounts.items()}
    bulk = _client(owner=study.owner).bonuses_pay(study_id=linked.prolific_id, amounts=by_submission)
    return str(bulk["id"])
