"""Studies: which IRIs are shown, in which paradigm, to whom (docs/method.md §2)."""

import secrets

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.utils.translation import gettext_noop

from surveys.common.ids import url_token
from surveys.generation.models import GenerationJob, Stimulus
from surveys.studies.design import StudyDesign
from surveys.studies.paradigms import Paradigm


def new_public_id() -> str:
    return url_token(9)


def new_completion_code() -> str:
    return secrets.token_hex(4).upper()


# The consent a new study starts from, in the study's language; {task} is its paradigm's task
# (paradigms.py). Editable per study.
CONSENT_TEMPLATE = gettext_noop(
    "You are invited to take part in a short study on how people see images. You will {task}, many times. "
    "It takes about 5 minutes. Your answers are stored without your name. You may stop at any time by "
    "closing this page."
)
# A new study's language (settings.LANGUAGES): English, the language of every text's source.
DEFAULT_LANGUAGE = "en"


def default_design() -> dict:
    # study_create stores the full design (StudyDesign.to_dict()), so a study's design never drifts.
    return {}


class StudyStatus(models.TextChoices):
    OPEN = "open"
    CLOSED = "closed"


# What participants read besides the design: a study's working copy and each of its versions have them.
# The language too: the pages' own words in it are part of what participants read.
STUDY_TEXTS = ("language", "consent_text", "instructions_html", "prompt", "scale_low_label", "scale_high_label",
               "debrief_text")


class StudyTexts(models.Model):
    """What participants read, written for the paradigm when the study is made (study_create), then the
    researcher's to edit: plain text, Markdown-compatible."""

    consent_text = models.TextField(help_text="Shown before anything else; plain text.")
    instructions_html = models.TextField(
        verbose_name="instructions", help_text="Shown once, before the first trial; plain text (Markdown-compatible).")
    prompt = models.CharField(max_length=300, help_text="The question on every trial screen.")
    scale_low_label = models.CharField(max_length=60, blank=True, help_text="Similarity: what a rating of 1 means.")
    scale_high_label = models.CharField(max_length=60, blank=True, help_text="Similarity: what a rating of 7 means.")
    debrief_text = models.TextField(
        verbose_name="debrief", blank=True,
        help_text="Shown on the last page, before the participant is sent back; Markdown. Empty: none.")
    # The participant pages' language, whatever the browser asks for (surveys/trials/views.py). The
    # texts are written in it when the study is made (study_build), and are the researcher's after.
    language = models.CharField(
        max_length=8, choices=settings.LANGUAGES, default=DEFAULT_LANGUAGE,
        help_text="The language of the participant pages (buttons, messages, the end page). A new study's "
                  "texts are written in it; after that they are yours: change them too when you change it.")

    class Meta:
        abstract = True


class Study(StudyTexts):
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="studies")
    name = models.CharField(max_length=200)
    public_id = models.CharField(max_length=32, unique=True, default=new_public_id, editable=False)
    paradigm = models.CharField(max_length=16, choices=Paradigm.choices, default=Paradigm.TWO_AFC)
    status = models.CharField(max_length=16, choices=StudyStatus.choices, default=StudyStatus.OPEN)
    # Why and when the study last closed: the researcher's action, or the stopping rule's verdict
    # (docs/method.md §3, "Stopping rule"); both are cleared when it opens again.
    closed_reason = models.TextField(blank=True, editable=False)
    closed_at = models.DateTimeField(null=True, blank=True, editable=False)
    # StudyDesign.to_dict() as JSON (surveys.studies.design has the options and their defaults);
    # read it through design_spec.
    design = models.JSONField(default=default_design, blank=True)
    jobs = models.ManyToManyField(GenerationJob, related_name="studies")
    # The researcher chose to survey IRIs that fail their job's criterion (or were never judged) too;
    # by default a study holds only those that pass (docs/engine/option-criterion.md).
    includes_failing_iris = models.BooleanField(default=False)
    # The number of the current StudyVersion: bumped by every change to the design or to what
    # participants read, each of which records the next version. The design is frozen once a
    # non-pilot participant has started; the texts may still change, as a new version.
    design_version = models.PositiveIntegerField(default=1, editable=False)
    completion_code = models.CharField(max_length=32, default=new_completion_code)
    # One code per way a session can end, so the recruitment platform can pay (or not) accordingly.
    code_no_consent = models.CharField(max_length=32, default=new_completion_code)
    code_failed_gate = models.CharField(max_length=32, default=new_completion_code)
    code_incompatible = models.CharField(max_length=32, default=new_completion_code)
    # Where a recruitment platform wants the participant sent at the end; {code} is filled in, e.g.
    # https://app.prolific.com/submissions/complete?cc={code}. MTurk needs none (its submit form is built in).
    completion_url = models.URLField(blank=True, max_length=500)
    # How long participants' recruitment ids (Prolific or MTurk ids, session ids) are kept; past it,
    # `manage.py iris_retention` removes them and keeps the answers, anonymous (docs/data-protection.md).
    retention_days = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1)],
        help_text="Days after a session starts that its recruitment ids (Prolific/MTurk ids) are kept; then "
                  "manage.py iris_retention removes them and keeps the answers, anonymous. Empty: kept.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "studies"

    def __str__(self) -> str:
        return self.name

    @property
    def design_spec(self) -> StudyDesign:
        return StudyDesign.from_dict(self.design, paradigm=self.paradigm)


class StudyVersionQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise TypeError("A study version is never changed; an edit to the study records the next one.")


class StudyVersion(StudyTexts):
    """One version of a study: its texts and design as they stood when it was recorded, which is what
    the participants who point at it (Participant.study_version) were shown. Written once, never
    changed: ``save`` refuses an existing row and ``update`` every row, so that what a participant
    saw stays on record whatever the study says later. It goes only with its study."""

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    design = models.JSONField(help_text="StudyDesign.to_dict() as it stood, questions included.")
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+")

    objects = StudyVersionQuerySet.as_manager()

    class Meta:
        ordering = ["study", "-number"]
        constraints = [models.UniqueConstraint(fields=["study", "number"], name="unique_study_version")]

    def __str__(self) -> str:
        return f"{self.study} v{self.number}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise TypeError(f"{self} is on record and never changed; an edit to the study records the next version.")
        super().save(*args, **kwargs)


class Condition(models.Model):
    """One cell of the design: model x layer x loss x starting point (one job at one layer)."""

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="conditions")
    job = models.ForeignKey(GenerationJob, on_delete=models.PROTECT, related_name="conditions")
    layer = models.CharField(max_length=200)
    label = models.CharField(max_length=300)

    class Meta:
        ordering = ["study", "pk"]
        constraints = [models.UniqueConstraint(fields=["study", "job", "layer"], name="unique_condition")]

    def __str__(self) -> str:
        return self.label


class StudyItem(models.Model):
    """One IRI as shown in a study."""

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="items")
    condition = models.ForeignKey(Condition, on_delete=models.CASCADE, related_name="items")
    stimulus = models.ForeignKey(Stimulus, on_delete=models.PROTECT, related_name="study_items")

    class Meta:
        ordering = ["study", "pk"]
        constraints = [models.UniqueConstraint(fields=["study", "stimulus"], name="unique_item")]

    def __str__(self) -> str:
        return f"{self.condition}: {self.stimulus.target.name}"
