"""Studies: which IRIs are shown, in which paradigm, to whom (docs/method.md §2)."""

import secrets

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_noop

from surveys.generation.models import GenerationJob, Stimulus
from surveys.studies.design import StudyDesign
from surveys.studies.paradigms import Paradigm


def new_public_id() -> str:
    return secrets.token_urlsafe(9)


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


class Study(models.Model):
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="studies")
    name = models.CharField(max_length=200)
    public_id = models.CharField(max_length=32, unique=True, default=new_public_id, editable=False)
    paradigm = models.CharField(max_length=16, choices=Paradigm.choices, default=Paradigm.TWO_AFC)
    status = models.CharField(max_length=16, choices=StudyStatus.choices, default=StudyStatus.OPEN)
    # StudyDesign.to_dict() as JSON (surveys.studies.design has the options and their defaults);
    # read it through design_spec.
    design = models.JSONField(default=default_design, blank=True)
    jobs = models.ManyToManyField(GenerationJob, related_name="studies")
    # The researcher chose to survey IRIs that fail their job's criterion (or were never judged) too;
    # by default a study holds only those that pass (docs/engine/option-criterion.md).
    includes_failing_iris = models.BooleanField(default=False)
    # What participants read, written for the paradigm when the study is made (study_create), then the
    # researcher's to edit until the design freezes: plain text, Markdown-compatible.
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
    # texts above are written in it when the study is made (study_build), and are the researcher's after.
    language = models.CharField(
        max_length=8, choices=settings.LANGUAGES, default=DEFAULT_LANGUAGE,
        help_text="The language of the participant pages (buttons, messages, the end page). A new study's "
                  "texts are written in it; after that they are yours: change them too when you change it.")
    # Bumped by every change to the design or to what participants read; each participant records the
    # version they saw (Participant.design_version). Frozen once a non-pilot participant has started.
    design_version = models.PositiveIntegerField(default=1, editable=False)
    completion_code = models.CharField(max_length=32, default=new_completion_code)
    # One code per way a session can end, so the recruitment platform can pay (or not) accordingly.
    code_no_consent = models.CharField(max_length=32, default=new_completion_code)
    code_failed_gate = models.CharField(max_length=32, default=new_completion_code)
    code_incompatible = models.CharField(max_length=32, default=new_completion_code)
    # Where a recruitment platform wants the participant sent at the end; {code} is filled in, e.g.
    # https://app.prolific.com/submissions/complete?cc={code}. MTurk needs none (its submit form is built in).
    completion_url = models.URLField(blank=True, max_length=500)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "studies"

    def __str__(self) -> str:
        return self.name

    @property
    def design_spec(self) -> StudyDesign:
        return StudyDesign.from_dict(self.design, paradigm=self.paradigm)


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
