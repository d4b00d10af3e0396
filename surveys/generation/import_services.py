"""Writes for stimulus sets made elsewhere (docs/stimulus-import.md): a zip with its manifest becomes
a finished generation job of kind "imported", so that studies, trials, scores and exports treat its
IRIs as they treat IRIS's own.

Checked as any upload is, before anything is stored (docs/conventions.md §5): the manifest whole,
then every image it names (looked up, sized from the zip's headers, then streamed and decoded); one
refusal names the item and the field, and leaves no row and no file behind.
"""

import json
from typing import BinaryIO

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models.fields.files import FieldFile
from django.utils import timezone

from surveys.generation import images as image_checks
from surveys.generation.manifest import MANIFEST_NAME, MAX_MANIFEST_BYTES, ImportedItem, StimulusManifest
from surveys.generation.models import (
    GenerationJob,
    JobKind,
    JobStatus,
    Stimulus,
    TargetImage,
    TargetSet,
    opaque_png_name,
)
from surveys.generation.services import files_removed_on_error


def stimulus_set_import(*, owner, name: str, filename: str, data: bytes | BinaryIO) -> GenerationJob:
    """Import the zip ``data`` (uploaded as ``filename``) as the owner's set ``name``: a target set of its
    targets, and a done job of kind "imported" with one IRI per manifest item. Every image is stored as
    IRIS stores the images participants see (8-bit RGB PNG, no metadata). A refusal stores nothing."""
    if TargetSet.objects.filter(owner=owner, name=name).exists():
        raise ValidationError(f"You already have a target set or imported stimulus set named {name!r}.")
    with image_checks.zip_opened(name=filename, data=data) as archive:
        manifest = _manifest_read(archive=archive, filename=filename)
        checked = image_checks.images_from_zip_members(archive=archive, wanted=manifest.images())
    try:
        _one_size_check(manifest=manifest, checked=checked)
        with files_removed_on_error() as stored, transaction.atomic():
            now = timezone.now()
            target_set = TargetSet.objects.create(owner=owner, name=name)
            job = GenerationJob.objects.create(
                owner=owner, kind=JobKind.IMPORTED, model=None, target_set=target_set,
                config=manifest.imported_set.to_dict(), status=JobStatus.DONE, started_at=now, finished_at=now)
            _rows_save(job=job, manifest=manifest, checked=checked, stored=stored)
    finally:
        image_checks.images_close(images=list(checked.values()))
    return job


def _manifest_read(*, archive, filename: str) -> StimulusManifest:
    text = image_checks.zip_text(archive=archive, member=MANIFEST_NAME, max_bytes=MAX_MANIFEST_BYTES)
    if text is None:
        raise ValidationError(f"{filename}: no {MANIFEST_NAME} at the zip's root (zip the contents of the set's "
                              "folder, not the folder itself; docs/stimulus-import.md).")
    try:
        return StimulusManifest.from_dict(json.loads(text))
    except (ValueError, RecursionError) as error:  # json's errors are ValueErrors
        raise ValidationError(f"{MANIFEST_NAME}: not valid JSON ({error}).") from None
    except ValidationError as error:
        raise ValidationError(f"{MANIFEST_NAME}: {' '.join(error.messages)}") from None


def _one_size_check(*, manifest: StimulusManifest, checked: dict[str, image_checks.UploadedImage]) -> None:
    """Every image of the set has one size, as a generated job's do: a trial shows images of one set
    side by side, and a size that differs would tell the participant which image is which."""
    named = manifest.images()
    first = next(iter(named))
    for path, who in named.items():
        if checked[path].size != checked[first].size:
            (width, height), (first_width, first_height) = checked[path].size, checked[first].size
            raise ValidationError(f"{who} ({path}): {width}x{height} pixels, but {named[first]} ({first}) is "
                                  f"{first_width}x{first_height}; every image of a set must have one size, or its "
                                  "size would tell participants which image is the target.")


def _rows_save(*, job: GenerationJob, manifest: StimulusManifest, checked: dict[str, image_checks.UploadedImage],
               stored: list[FieldFile]) -> None:
    """The set's target images and IRIs, each image file stored once per folder however many items name
    it: once under targets/ (the researcher's) and once under stimuli/, with a name that says nothing
    about it (participants' image links carry it)."""
    files: dict[tuple[str, str], str] = {}  # (folder, path in the zip) -> name in storage
    targets: dict[str, TargetImage] = {}

    def store(field: FieldFile, path: str) -> None:
        key = (field.field.upload_to, path)
        if key not in files:
            if isinstance(field.instance, Stimulus):
                name = opaque_png_name()
            else:
                name = f"job{job.pk}/{checked[path].sha256[:20]}.png"
            field.save(name, ContentFile(image_checks.png_of(checked[path])), save=False)
            stored.append(field)
            files[key] = field.name
        field.name = files[key]

    stimuli = []
    for item in manifest.items:
        if item.target not in targets:
            target = TargetImage(target_set=job.target_set, name=item.target, category=item.category,
                                 sha256=checked[item.target].sha256)
            store(target.image, item.target)
            target.save()
            targets[item.target] = target
        stimulus = _stimulus_of(job=job, item=item, target=targets[item.target])
        for field, path in ((stimulus.target_png, item.target), (stimulus.iri_png, item.iri),
                            (stimulus.seed_png, item.seed)):
            if path is not None:
                store(field, path)
        stimuli.append(stimulus)
    Stimulus.objects.bulk_create(stimuli)


def _stimulus_of(*, job: GenerationJob, item: ImportedItem, target: TargetImage) -> Stimulus:
    """An imported IRI: its maker's verdict, and none of what only IRIS measures (docs/stimulus-import.md)."""
    return Stimulus(job=job, target=target, layer=item.condition, passes=item.passes, config=item.to_dict(),
                    final_rep_loss=None, wall_seconds=None, optimizer="", code_version="")
