"""Exclusion rules per study (with the stopping rule's target), the append-only audit trail of
exclusion decisions (docs/method.md §2), where each study's stopping rule stands (§3), and Prolific.

A participant's decision is the latest override if a researcher made one, otherwise the latest
decision the rules made. Rows are only ever added: the trail shows what the rules said, what a
researcher changed, when, by whom and why.
"""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from surveys.studies.models import Study
from surveys.trials.models import Participant

_SHARE = [MinValueValidator(0.0), MaxValueValidator(1.0)]


# The values the models' choice fields below take.
class DecisionSource(models.TextChoices):
    RULES = "rules"
    OVERRIDE = "override"


class ProlificStudyStatus(models.TextChoices):
    DRAFT = "draft"
    PUBLISHED = "published"
    STOPPED = "stopped"  # final on Prolific: a study that must recruit again needs a new Prolific study


class ProlificVerdict(models.TextChoices):
    APPROVED = "approved"
    REJECTED = "rejected"


def _above_zero(value: float) -> None:
    if value <= 0:
        raise ValidationError("A target CI width must be above 0 (no interval is narrower than 0).")


class ExclusionRules(models.Model):
    """What makes a completed participant's data unusable in one study; an empty field is no rule."""

    study = models.OneToOneField(Study, on_delete=models.CASCADE, related_name="exclusion_rules")
    catch_min_accuracy = models.FloatField(null=True, blank=True, validators=_SHARE,
                                           help_text="Exclude when catch-trial accuracy is below this share.")
    min_median_rt_ms = models.FloatField(null=True, blank=True, validators=[MinValueValidator(0.0)],
                                         help_text="Exclude when the median main-trial response time is below this.")
    max_one_sided_share = models.FloatField(null=True, blank=True, validators=_SHARE,
                                            help_text="Exclude when one option (or rating) takes more than this "
                                                      "share of main-trial responses.")
    qualification_min_correct = models.PositiveIntegerField(
        null=True, blank=True, help_text="Exclude when fewer qualification (gate) trials than this were right.")
    max_focus_lost_share = models.FloatField(
        null=True, blank=True, validators=_SHARE,
        help_text="Exclude when the participant left the page, window or full screen during more than this "
                  "share of main trials (each response's focus_lost mark).")
    target_ci_width = models.FloatField(
        null=True, blank=True, validators=[_above_zero],
        help_text="The stopping rule: IRIS recruits, replacing excluded participants, until every condition's "
                  "95% CI is at most this wide, then closes the study (recording why) and stops its Prolific "
                  "study; sooner at the design's cap, or when the items alone make an interval wider than this "
                  "(more participants cannot narrow that part). Checked after participants complete, once each "
                  "condition has a few usable ones. Empty: only the cap stops recruiting.")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = verbose_name_plural = "exclusion rules"  # "rules" either way

    def __str__(self) -> str:
        return f"Exclusion rules of {self.study}"


class ExclusionDecision(models.Model):
    """One entry of the audit trail. Never updated or deleted by the application."""

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="exclusion_decisions")
    participant = models.ForeignKey(Participant, on_delete=models.CASCADE, related_name="exclusion_decisions")
    excluded = models.BooleanField()
    reason = models.TextField(blank=True)
    source = models.CharField(max_length=16, choices=DecisionSource.choices)
    note = models.TextField(blank=True, help_text="A researcher's reason for an override.")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                               related_name="+")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["study", "participant", "created_at", "pk"]
        indexes = [models.Index(fields=["study", "participant", "source"])]

    def __str__(self) -> str:
        verdict = "excluded" if self.excluded else "included"
        return f"{self.participant} {verdict} ({self.source})"


class ProlificAccount(models.Model):
    """A researcher's Prolific API token, encrypted with IRIS_PROLIFIC_KEY (Fernet); never shown back."""

    owner = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="prolific_account")
    token_encrypted = models.TextField(editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "Prolific token"
        verbose_name_plural = "Prolific tokens"

    def __str__(self) -> str:
        return f"Prolific token of {self.owner}"


class Recruitment(models.Model):
    """Where a study's stopping rule stands (docs/method.md §3, "Stopping rule"): the state of its
    background check (docs/conventions.md §7) and the last verdict, in words."""

    study = models.OneToOneField(Study, on_delete=models.CASCADE, related_name="recruitment")
    # Set when a check is enqueued and cleared when it starts: completions meanwhile enqueue nothing,
    # since that check will see them. One left set longer than a check can take was lost, and is retaken.
    queued_at = models.DateTimeField(null=True, blank=True)
    checked_at = models.DateTimeField(null=True, blank=True)
    verdict = models.TextField(blank=True)

    def __str__(self) -> str:
        return f"Recruitment of {self.study}"


class ProlificStudy(models.Model):
    """The Prolific study made from an IRIS study, and what IRIS asked for."""

    study = models.OneToOneField(Study, on_delete=models.CASCADE, related_name="prolific")
    prolific_id = models.CharField(max_length=64)
    status = models.CharField(max_length=16, choices=ProlificStudyStatus.choices, default=ProlificStudyStatus.DRAFT)
    places = models.PositiveIntegerField()
    reward_cents = models.PositiveIntegerField()
    minutes = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)
    published_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "Prolific studies"

    def __str__(self) -> str:
        return f"Prolific {self.prolific_id} ({self.status}) of {self.study}"


class ProlificReview(models.Model):
    """What IRIS told Prolific about one participant's submission; one row each, so nobody twice."""

    participant = models.OneToOneField(Participant, on_delete=models.CASCADE, related_name="prolific_review")
    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="prolific_reviews")
    submission_id = models.CharField(max_length=128)
    verdict = models.CharField(max_length=16, choices=ProlificVerdict.choices)
    reason = models.TextField(blank=True)
    rejection_category = models.CharField(max_length=32, blank=True)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                               related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["study", "created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.participant} {self.verdict} on Prolific"
