"""Registered models, target images, generation jobs and the IRIs (stimuli) they produce.

Job state lives here, not in the broker (docs/conventions.md §7): a job is split into batches, each
batch row is claimed by one worker with a conditional UPDATE, and each IRI row is unique per
(job, target, layer), so a redelivered batch can never store an IRI twice.
"""

import enum
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.db import models
from django.db.models.fields.files import FieldFile

from iri_engine.spec import IMAGENET_MEAN, IMAGENET_STD, GenerationSpec
from surveys.generation.manifest import ImportedSet


# Named defaults, as migrations refer to them.
def _imagenet_mean() -> list[float]:
    return list(IMAGENET_MEAN)


def _imagenet_std() -> list[float]:
    return list(IMAGENET_STD)


class ModelStatus(models.TextChoices):
    """Where a registered model stands: only a ready one can be used (services.model_ready_check)."""

    INSPECTING = "inspecting"  # saved, a worker of the inspect queue has yet to read its checkpoint
    READY = "ready"
    REFUSED = "refused"  # the inspection's message is in ``error``; its checkpoint file is deleted


class RegisteredModel(models.Model):
    """A network a researcher brought: an architecture, a checkpoint and its normalisation."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="iris_models")
    name = models.CharField(max_length=100)
    architecture = models.CharField(
        max_length=128,
        help_text="A torchvision classification model name (e.g. resnet18); timm:NAME for a timm "
                  "architecture (e.g. timm:resnet10t; built without pretrained weights, upload yours); "
                  "installed:NAME for one your workers' operator installed (an iris.architectures "
                  "entry point); or torchscript.",
    )
    weights = models.FileField(upload_to="checkpoints/", blank=True,
                               help_text="state_dict (.pt/.pth), .safetensors, or a TorchScript archive. "
                                         "Leave empty for a randomly initialised network (demos, tests).")
    input_size = models.PositiveIntegerField(default=224, help_text="Square input side, in pixels.")
    mean = models.JSONField(default=_imagenet_mean, help_text="Per-channel normalisation mean (RGB).")
    std = models.JSONField(default=_imagenet_std, help_text="Per-channel normalisation std (RGB).")
    num_classes = models.PositiveIntegerField(null=True, blank=True,
                                              help_text="Passed to the torchvision constructor.")
    init_seed = models.IntegerField(default=0, help_text="Seed of the random initialisation when no weights.")
    # Filled by inspecting the checkpoint at registration, in a subprocess or on a worker (the web never loads torch).
    layer_names = models.JSONField(default=list, editable=False)
    checkpoint_sha256 = models.CharField(max_length=64, blank=True, editable=False)
    is_classifier = models.BooleanField(default=False, editable=False)
    num_outputs = models.PositiveIntegerField(null=True, blank=True, editable=False)
    # Inspected in the request (ready at once), or by a worker after it (inspecting until then).
    status = models.CharField(max_length=16, choices=ModelStatus.choices, default=ModelStatus.READY, editable=False)
    error = models.TextField(blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["owner", "name"], name="unique_model_name_per_owner")]
        verbose_name = "registered model"
        # A TorchScript archive is code: registering one needs this (runs confined even then).
        permissions = [("register_code_model", "Can register code-bearing models (TorchScript)")]

    def __str__(self) -> str:
        return self.name


class TargetSet(models.Model):
    """Natural target images that IRIs are made from."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="target_sets")
    name = models.CharField(max_length=100)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["owner", "name"], name="unique_target_set_per_owner")]

    def __str__(self) -> str:
        return self.name


class TargetImage(models.Model):
    target_set = models.ForeignKey(TargetSet, on_delete=models.CASCADE, related_name="images")
    name = models.CharField(max_length=200)
    category = models.CharField(max_length=100, blank=True)
    image = models.FileField(upload_to="targets/")
    sha256 = models.CharField(max_length=64)

    class Meta:
        ordering = ["target_set", "name"]
        constraints = [models.UniqueConstraint(fields=["target_set", "name"], name="unique_target_name")]

    def __str__(self) -> str:
        return self.name


class JobStatus(models.TextChoices):
    """Where a job, or one batch of it, stands."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


class Claim(enum.Enum):
    """What a worker may do with a batch it was handed (services.batch_claim)."""

    CLAIMED = "claimed"  # run it
    HELD = "held"  # another worker's lease is fresh: it is alive, or died moments ago; look again later
    CLOSED = "closed"  # finished, failed or cancelled: nothing to do


class JobKind(models.TextChoices):
    """Who made a job's IRIs."""

    GENERATED = "generated"  # IRIS, from a registered model (config: the engine's GenerationSpec)
    # Someone else: a stimulus set imported with its manifest (config: generation.manifest.ImportedSet).
    # It is done once imported; its conditions stand where a generated job's layers do.
    IMPORTED = "imported"


@dataclass(frozen=True)
class CellLabels:
    """How one cell of a job (a layer of it; a condition of an imported set) is named for people
    (``label``, a study's Condition.label) and in exports. An imported set has no loss or starting point."""

    label: str
    model: str
    layer: str
    loss: str = ""
    seed_type: str = ""


class GenerationJob(models.Model):
    """A request for IRIs: one model, one or more layers, a target set and an engine configuration;
    or a stimulus set made elsewhere and imported (``kind``), whose model and layers are labels only."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="generation_jobs")
    kind = models.CharField(max_length=16, choices=JobKind.choices, default=JobKind.GENERATED, editable=False)
    # None for an imported set: IRIS never had its model.
    model = models.ForeignKey(RegisteredModel, on_delete=models.PROTECT, null=True, blank=True, related_name="jobs")
    target_set = models.ForeignKey(TargetSet, on_delete=models.PROTECT, related_name="jobs")
    # The engine's GenerationSpec as JSON (iri_engine.spec), validated at submission; an imported set's
    # ImportedSet (generation.manifest).
    config = models.JSONField()
    # Perceptual distances, each {"model": id, "layers": [...]}: the one the adversarial presets
    # push against, and those that score the proxy alignment (never the generating one).
    perceptual = models.JSONField(null=True, blank=True)
    proxies = models.JSONField(default=list, blank=True)
    # Other registered classifiers whose recognition of these IRIs is measured (Feather's model-to-model).
    recognizers = models.JSONField(default=list, blank=True)
    # The natural images of validity's null when the criterion's null is "reference" (docs/engine/
    # option-criterion.md); the kind itself is config["criterion"]["null"].
    null_reference = models.ForeignKey(TargetSet, on_delete=models.PROTECT, null=True, blank=True,
                                       related_name="reference_for_jobs")
    status = models.CharField(max_length=16, choices=JobStatus.choices, default=JobStatus.QUEUED, db_index=True)
    cancel_requested = models.BooleanField(default=False)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        if self.kind == JobKind.IMPORTED:
            return f"Job {self.pk}: imported set {self.target_set.name}"
        return f"Job {self.pk}: {self.model} {','.join(self.layers)} {self.spec.loss}"

    @property
    def spec(self) -> GenerationSpec:
        """The configuration as the engine reads it (validated by job_submit before it was stored);
        a generated job's only."""
        return GenerationSpec.from_dict(self.config)

    @property
    def imported(self) -> ImportedSet:
        """An imported set's conditions (checked with its manifest before it was stored)."""
        return ImportedSet.from_dict(self.config)

    @property
    def layers(self) -> list[str]:
        """What keys the job's cells: its layers, or an imported set's condition names."""
        if self.kind == JobKind.IMPORTED:
            return [condition.name for condition in self.imported.conditions]
        return list(self.spec.layers)

    def cell_labels(self, layer: str) -> CellLabels:
        """How the cell ``layer`` (one of ``layers``) is named: model / layer / loss / starting point, or
        an imported condition's name with its model and layer labels."""
        if self.kind == JobKind.IMPORTED:
            condition = self.imported.condition(layer)
            return CellLabels(label=condition.label, model=condition.model, layer=condition.layer)
        spec = self.spec
        return CellLabels(label=f"{self.model.name} / {layer} / {spec.loss} / {spec.seed_type}", model=self.model.name,
                          layer=layer, loss=spec.loss, seed_type=spec.seed_type)


class ImportedStimulusSet(GenerationJob):
    """The jobs of kind "imported", as admin lists them and makes them (an upload of a zip)."""

    class Meta:
        proxy = True
        verbose_name = "imported stimulus set"


class GenerationBatch(models.Model):
    """The unit of work of one task: some targets of a job at one layer."""

    job = models.ForeignKey(GenerationJob, on_delete=models.CASCADE, related_name="batches")
    index = models.PositiveIntegerField()
    layer = models.CharField(max_length=200)
    target_ids = models.JSONField()
    status = models.CharField(max_length=16, choices=JobStatus.choices, default=JobStatus.QUEUED, db_index=True)
    attempts = models.PositiveIntegerField(default=0)
    claimed_by = models.CharField(max_length=200, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    steps_done = models.PositiveIntegerField(default=0)
    steps_total = models.PositiveIntegerField(default=0)
    current_loss = models.FloatField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["job", "index"]
        constraints = [models.UniqueConstraint(fields=["job", "index"], name="unique_batch_index")]
        verbose_name = "generation batch"
        verbose_name_plural = "generation batches"

    def __str__(self) -> str:
        return f"Job {self.job_id} batch {self.index}"


def opaque_png_name() -> str:
    """A name for a stimulus's stored PNG (under "stimuli/") that says nothing about it: not its job,
    its target or its role. Participants' image links carry it (surveys/trials/image_links.py)."""
    return f"{uuid.uuid4().hex}.png"


class Stimulus(models.Model):
    """One IRI with everything needed to reproduce and judge it (docs/method.md §1, what each IRI keeps).

    An imported IRI (its job's kind) has what its manifest gave: its target, itself, perhaps its seed,
    and its maker's verdict (``passes``); ``layer`` holds its condition's name, ``config`` its manifest
    item (generation.manifest.ImportedItem), and what only IRIS measures (L_rep, wall time, validity,
    proxies, recognition) is absent."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    job = models.ForeignKey(GenerationJob, on_delete=models.CASCADE, related_name="stimuli")
    batch = models.ForeignKey(GenerationBatch, on_delete=models.SET_NULL, null=True, related_name="stimuli")
    target = models.ForeignKey(TargetImage, on_delete=models.PROTECT, related_name="stimuli")
    layer = models.CharField(max_length=200)
    target_png = models.FileField(upload_to="stimuli/")
    seed_png = models.FileField(upload_to="stimuli/", blank=True)  # empty: imported without one
    iri_png = models.FileField(upload_to="stimuli/")
    final_rep_loss = models.FloatField(null=True, blank=True)
    loss_curve = models.JSONField(default=list)
    validity = models.JSONField(default=dict, blank=True)
    # {distance name: {"d_target", "d_seed", "aligned"}}: Nanda's proxy on the stored PNGs.
    proxy = models.JSONField(default=dict, blank=True)
    # {model name: {"target_class", "iri_class", "agrees"}}: does another classifier see the target?
    recognition = models.JSONField(default=dict, blank=True)
    # The engine's verdict against the job's criterion (iri_engine.validity.judge): {"passes",
    # "reasons", "criterion", "null"}; ``passes`` is copied out so studies can filter on it.
    # None: stored before IRIs were judged, so not known to be an IRI.
    passes = models.BooleanField(null=True, db_index=True)
    verdict = models.JSONField(default=dict, blank=True)
    wall_seconds = models.FloatField(null=True, blank=True)
    optimizer = models.CharField(max_length=32)
    config = models.JSONField()
    code_version = models.CharField(max_length=64)
    checkpoint_sha256 = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "stimuli"
        ordering = ["job", "layer", "target__name"]
        constraints = [models.UniqueConstraint(fields=["job", "target", "layer"], name="one_iri_per_target_layer")]

    def __str__(self) -> str:
        return f"IRI of {self.target} at {self.layer} (job {self.job_id})"

    def png(self, role: str) -> FieldFile:
        """One of the three stored images: "target", "seed" or "iri"."""
        return {"target": self.target_png, "seed": self.seed_png, "iri": self.iri_png}[role]


class NullDistributionCache(models.Model):
    """Validity's null (iri_engine.validity.NullDistribution) per model, layer, set of natural images
    and kind of pairs (iri_engine.spec.NULL_KINDS; ``target_set`` is the reference set for "reference")."""

    model = models.ForeignKey(RegisteredModel, on_delete=models.CASCADE, related_name="null_distributions")
    layer = models.CharField(max_length=200)
    target_set = models.ForeignKey(TargetSet, on_delete=models.CASCADE, related_name="null_distributions")
    # Rows cached before kinds existed paired any two targets.
    kind = models.CharField(max_length=32, default="targets")
    data = models.JSONField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["model", "layer", "target_set", "kind"],
                                               name="one_null_per_layer_and_kind")]


# --- notifications (docs/notifications.md) ----------------------------------------------------------
# They live here, at the bottom of the app stack, so that every app above may tell a researcher of
# its events: generation of a job's end, trials of a study that filled, whatever closes a study on its target.

class NotificationEvent(models.TextChoices):
    """What a researcher may be told of; the value is the webhook's ``event``."""

    # Told by generation when a job ends (services.job_refresh).
    JOB_DONE = "job.done", "a generation job finished"
    JOB_FAILED = "job.failed", "a generation job failed"
    # Told through studies' study_notify: by trials when the last place is completed, and by whatever
    # closes a study on reaching its interval target.
    STUDY_FILLED = "study.filled", "a study has every participant its design asks for"
    STUDY_TARGET_REACHED = "study.target_reached", "a study closed on reaching its interval target"


def every_event() -> list[str]:
    return list(NotificationEvent.values)


class NotificationChannel(models.TextChoices):
    """How a researcher is told: by email, or by a signed call to their webhook (docs/notifications.md)."""

    EMAIL = "email"
    WEBHOOK = "webhook"


class DeliveryStatus(models.TextChoices):
    """Where one channel's delivery of a notification stands, as admin's Notifications page says it."""

    PENDING = "pending", "waiting to be sent"
    SENT = "sent", "sent"
    FAILED = "failed", "given up"  # refused, or no success after every retry


class NotificationSettings(models.Model):
    """How one researcher is told of events: by email to their account's address, and by a webhook.
    A researcher without a row has the defaults: email for every event, no webhook."""

    owner = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                                 related_name="notification_settings")
    # NotificationEvent values, checked by notifications.notification_settings_set.
    events = models.JSONField(default=every_event, blank=True)
    email = models.BooleanField(default=True, help_text="Email me, at my account's address, of the events ticked.")
    webhook_url = models.URLField(
        max_length=500, blank=True,
        help_text="An https URL that IRIS POSTs each event ticked to, as signed JSON (docs/notifications.md). "
                  "Only public addresses are called. Empty: no webhook.")
    # The key of the webhook's HMAC signature: made by IRIS, shown to the researcher once, kept to sign.
    webhook_secret = models.CharField(max_length=64, blank=True, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "notification settings"

    def __str__(self) -> str:
        return f"Notification settings of {self.owner}"


class Notification(models.Model):
    """One event told to one researcher. Unique per event and what it is about, so that telling it
    twice (two workers ending a job's last batches at once) records and sends it once."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)  # the webhook's delivery id
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    event = models.CharField(max_length=32, choices=NotificationEvent.choices)
    about = models.CharField(max_length=64)  # "job:12", "study:3"
    summary = models.CharField(max_length=300)
    detail = models.TextField(blank=True)
    url = models.CharField(max_length=500, blank=True)  # where the researcher reads more
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["event", "about"], name="one_notification_per_event")]

    def __str__(self) -> str:
        return self.summary


class NotificationDelivery(models.Model):
    """A notification's way out by one channel: its own task, retries and outcome."""

    notification = models.ForeignKey(Notification, on_delete=models.CASCADE, related_name="deliveries")
    channel = models.CharField(max_length=16, choices=NotificationChannel.choices)
    status = models.CharField(max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)  # why the last attempt failed
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "notification deliveries"
        constraints = [models.UniqueConstraint(fields=["notification", "channel"], name="one_delivery_per_channel")]

    def __str__(self) -> str:
        return f"{self.channel} of {self.notification} ({self.status})"
