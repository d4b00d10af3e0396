"""Registered models, target images, generation jobs and the IRIs (stimuli) they produce.

Job state lives here, not in the broker (docs/conventions.md §7): a job is split into batches, each
batch row is claimed by one worker with a conditional UPDATE, and each IRI row is unique per
(job, target, layer), so a redelivered batch can never store an IRI twice.
"""

import enum
import uuid

from django.conf import settings
from django.db import models
from django.db.models.fields.files import FieldFile

from iri_engine.spec import IMAGENET_MEAN, IMAGENET_STD, GenerationSpec


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


class GenerationJob(models.Model):
    """A request for IRIs: one model, one or more layers, a target set and an engine configuration."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="generation_jobs")
    model = models.ForeignKey(RegisteredModel, on_delete=models.PROTECT, related_name="jobs")
    target_set = models.ForeignKey(TargetSet, on_delete=models.PROTECT, related_name="jobs")
    # The engine's GenerationSpec as JSON (iri_engine.spec), validated at submission.
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
        return f"Job {self.pk}: {self.model} {','.join(self.layers)} {self.spec.loss}"

    @property
    def spec(self) -> GenerationSpec:
        """The configuration as the engine reads it (validated by job_submit before it was stored)."""
        return GenerationSpec.from_dict(self.config)

    @property
    def layers(self) -> list[str]:
        return list(self.spec.layers)


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


class Stimulus(models.Model):
    """One IRI with everything needed to reproduce and judge it (docs/method.md §1, what each IRI keeps)."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    job = models.ForeignKey(GenerationJob, on_delete=models.CASCADE, related_name="stimuli")
    batch = models.ForeignKey(GenerationBatch, on_delete=models.SET_NULL, null=True, related_name="stimuli")
    target = models.ForeignKey(TargetImage, on_delete=models.PROTECT, related_name="stimuli")
    layer = models.CharField(max_length=200)
    target_png = models.FileField(upload_to="stimuli/")
    seed_png = models.FileField(upload_to="stimuli/")
    iri_png = models.FileField(upload_to="stimuli/")
    final_rep_loss = models.FloatField()
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
    wall_seconds = models.FloatField()
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
