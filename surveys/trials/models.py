"""The participant side: who took part, the trial list frozen for them, every response, and the
record of data withdrawn or erased (docs/data-protection.md)."""

import secrets

from django.conf import settings
from django.db import models

from surveys.common.ids import url_token
from surveys.studies.models import Condition, Study, StudyItem, StudyVersion
from surveys.trials.layout import TrialLayout


def new_token() -> str:
    # The participant's bearer secret in their URLs: unguessable, so nobody reaches another's session.
    return url_token(24)


def new_trial_id() -> str:
    return url_token(12)


# Crockford's base 32: no I, L, O or U, so a code copied by hand is not misread (withdrawal.code_normal
# reads I and L as 1 and O as 0).
CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_GROUPS, CODE_GROUP_LENGTH = 3, 4  # XXXX-XXXX-XXXX: 60 random bits


def new_withdrawal_code() -> str:
    """What a participant writes down to withdraw later (docs/data-protection.md): a secret of their
    own, separate from the session token, so that it can be typed and read out."""
    return "-".join("".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_GROUP_LENGTH))
                    for _ in range(CODE_GROUPS))


def new_erasure_reference() -> str:
    return "E-" + "".join(secrets.choice(CODE_ALPHABET) for _ in range(10))


class RecruitmentSource(models.TextChoices):
    PLAIN = "plain"
    PROLIFIC = "prolific"
    MTURK = "mturk"


class ParticipantStatus(models.TextChoices):
    STARTED = "started"
    CONSENTED = "consented"
    DECLINED = "declined"
    COMPLETED = "completed"
    FAILED_GATE = "failed_gate", "failed the qualification gate"
    INCOMPATIBLE = "incompatible", "incompatible device"
    TIMED_OUT = "timed_out", "abandoned (timed out)"


# Sessions that hold a place in the design until they finish or time out.
ACTIVE_STATUSES = (ParticipantStatus.STARTED, ParticipantStatus.CONSENTED)
# Sessions that ended before completion: they never hold a place and are never scored.
ENDED_EARLY = (ParticipantStatus.DECLINED, ParticipantStatus.FAILED_GATE, ParticipantStatus.INCOMPATIBLE,
               ParticipantStatus.TIMED_OUT)


class TrialKind(models.TextChoices):
    MAIN = "main"  # the only kind that is scored
    PRACTICE = "practice"  # feedback after each response
    CATCH = "catch"  # the query is identical to one option (attention check)
    QUALIFICATION = "qualification"  # the gate: enough right or the session ends


class Participant(models.Model):
    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="participants")
    token = models.CharField(max_length=64, unique=True, default=new_token, editable=False)
    source = models.CharField(max_length=16, choices=RecruitmentSource.choices, default=RecruitmentSource.PLAIN)
    recruitment_id = models.CharField(max_length=128)
    recruitment_data = models.JSONField(default=dict, blank=True)
    # The start page's one-time key that created this session: the same press of its button, sent
    # twice (a double click), resumes it; a recruitment id alone never does (services.participant_enter).
    arrival_key = models.CharField(max_length=32, blank=True, default="", editable=False)
    status = models.CharField(max_length=16, choices=ParticipantStatus.choices, default=ParticipantStatus.STARTED)
    is_pilot = models.BooleanField(default=False)
    # A copy of the study's exclusion decision for this completed session, kept here because
    # admission (this app) may not read scoring, which holds the decisions and their audit trail
    # and refreshes this copy at each recruitment check: an excluded participant's place in the
    # design is offered to someone new (docs/method.md §3, "Stopping rule").
    excluded = models.BooleanField(default=False, editable=False)
    # The Latin-square row this participant was given: which condition each target is seen in.
    design_row = models.PositiveIntegerField(null=True, blank=True)
    # The version of the study this participant was shown, current when they arrived: the consent they
    # agreed to, the instructions and the design their trial list was drawn from. None only for a pilot
    # session older than version records whose study changed since (migration trials 0007).
    study_version = models.ForeignKey(StudyVersion, on_delete=models.RESTRICT, null=True, blank=True,
                                      related_name="participants")
    # Bumped by every request of the session; a consented session silent for too long frees its place.
    last_seen_at = models.DateTimeField(null=True, blank=True, db_index=True)
    client_info = models.JSONField(default=dict, blank=True)
    # The answers to the study's questions (design questions_before/questions_after), as
    # {"before": {question id: answer}, "after": {...}}; a phase is here once its answers were sent.
    answers = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    consented_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    # Shown on the end page; entered at /p/withdraw/ it withdraws this session (trials.withdrawal).
    withdrawal_code = models.CharField(max_length=16, unique=True, default=new_withdrawal_code, editable=False)
    # Set when the study's retention period removed the recruitment ids (withdrawal.identifiers_expire).
    identifiers_erased_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["study", "recruitment_id"], name="one_participation")]

    def __str__(self) -> str:
        return f"{self.source}:{self.recruitment_id}"

    @property
    def holds_lapsed_place(self) -> bool:
        """Timed out before consenting: the page still offers consent, which takes a place again."""
        return self.status == ParticipantStatus.TIMED_OUT and self.consented_at is None


class Trial(models.Model):
    """One screen of one participant's frozen design. Which side holds the target stays here."""

    participant = models.ForeignKey(Participant, on_delete=models.CASCADE, related_name="trials")
    index = models.PositiveIntegerField()
    public_id = models.CharField(max_length=32, unique=True, default=new_trial_id, editable=False)
    kind = models.CharField(max_length=16, choices=TrialKind.choices, default=TrialKind.MAIN)
    # The IRI shown (main trials); practice, catch and gate trials show target images and may have none.
    item = models.ForeignKey(StudyItem, on_delete=models.PROTECT, related_name="trials", null=True, blank=True)
    condition = models.ForeignKey(Condition, on_delete=models.PROTECT, related_name="trials", null=True,
                                  blank=True, help_text="Set on main trials only.")
    target_on_left = models.BooleanField(default=False, help_text="2AFC main trials: the target is option 0.")
    # Server-only: what each screen slot holds and which option is right. Never sent to the browser.
    # TrialLayout.to_dict() as JSON; read it through layout_spec.
    layout = models.JSONField(default=dict, blank=True)
    # Set when the participant's browser could not load an image of this trial after retrying: the
    # trial was never shown, takes no answer, and is left out of the session (and so of every score).
    unavailable_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["participant", "index"]
        constraints = [models.UniqueConstraint(fields=["participant", "index"], name="unique_trial_index")]

    @property
    def layout_spec(self) -> TrialLayout:
        return TrialLayout.from_dict(self.layout)


class Response(models.Model):
    """One answer. One per trial, ever: a retried post finds this row instead of making another."""

    trial = models.OneToOneField(Trial, on_delete=models.CASCADE, related_name="response")
    idempotency_key = models.CharField(max_length=64)
    choice = models.PositiveSmallIntegerField(null=True, blank=True,
                                              help_text="Index of the chosen option (0 = left); null for ratings.")
    chose_target = models.BooleanField(null=True, help_text="2AFC: the chosen option was the target.")
    # 2AFC: chose the target; matching: the right target; classification: the right category; catch: the
    # identical option; similarity main trials: null (a rating has no right answer).
    correct = models.BooleanField(null=True)
    rating = models.PositiveSmallIntegerField(null=True, blank=True, help_text="Similarity: 1 (different) to 7.")
    rt_ms = models.FloatField(help_text="From the measured stimulus onset to the response.")
    client_data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)


class ErasureActor(models.TextChoices):
    PARTICIPANT = "participant", "the participant"
    RESEARCHER = "researcher", "a researcher"
    RETENTION = "retention", "the retention period"


class ErasureScope(models.TextChoices):
    EVERYTHING = "everything", "the session and every answer deleted"
    IDENTIFIERS = "identifiers", "recruitment ids removed, anonymous answers kept"


class DataErasure(models.Model):
    """One entry of the data-protection record: who withdrew or erased what, when and why. It holds
    nothing that names a participant (no recruitment id, platform ids, token or answers): the
    erased session is gone, and this row says only that it was, and how many answers went with it.
    Never updated or deleted by the application (docs/data-protection.md)."""

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="erasures")
    actor = models.CharField(max_length=16, choices=ErasureActor.choices)
    # The researcher who erased (actor "researcher"); nobody for a participant's own withdrawal.
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                               related_name="+")
    scope = models.CharField(max_length=16, choices=ErasureScope.choices)
    reason = models.TextField(blank=True)
    # What the participant is shown, and what a researcher may quote back to them: random, so it
    # names nobody.
    reference = models.CharField(max_length=16, unique=True, default=new_erasure_reference, editable=False)
    # SHA-256 of the erased session's withdrawal code: the same code entered again is answered "already
    # withdrawn" rather than "unknown". Only the person holding the code can tie it to them.
    code_digest = models.CharField(max_length=64, blank=True, db_index=True, editable=False)
    participants = models.PositiveIntegerField(default=1)
    responses = models.PositiveIntegerField(default=0, help_text="Answers deleted.")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["study", "created_at", "pk"]
        verbose_name = "data erasure"

    def __str__(self) -> str:
        return f"{self.reference}: {self.get_scope_display()} by {self.get_actor_display()}"
