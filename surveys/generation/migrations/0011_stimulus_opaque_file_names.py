"""Stimuli's stored PNGs get names that say nothing about them, stimuli/<32 hex>.png, where they were
stimuli/job<N>/<hex>-t|s|i.png (the job and the role) or, imported, a target image's file under
targets/. Participants' image links carry the name (surveys/trials/image_links.py).

Each file is copied under a new name, the rows that name it are updated, and the old file is deleted
once the migration commits, unless a target image still names it. Idempotent: a name already of the
new form is left as it is. A file missing from storage is left alone (its rows keep the name) and
logged."""

import logging
import re
import uuid

from django.core.files.storage import default_storage
from django.db import migrations, transaction

logger = logging.getLogger(__name__)

OPAQUE_NAME = re.compile(r"stimuli/[0-9a-f]{32}\.png")
FILE_FIELDS = ("target_png", "seed_png", "iri_png")


def stimulus_files_rename(apps, schema_editor):
    Stimulus = apps.get_model("generation", "Stimulus")
    TargetImage = apps.get_model("generation", "TargetImage")
    renamed: dict[str, str | None] = {}  # old name -> new name (None: missing), once per file
    for stimulus in Stimulus.objects.only("pk", *FILE_FIELDS).order_by("pk").iterator():
        changed = []
        for field in FILE_FIELDS:
            old = getattr(stimulus, field).name
            if not old or OPAQUE_NAME.fullmatch(old):
                continue
            if old not in renamed:
                renamed[old] = _copied(old)
            if renamed[old] is not None:
                setattr(stimulus, field, renamed[old])
                changed.append(field)
        if changed:
            stimulus.save(update_fields=changed)
    copied = {old for old, new in renamed.items() if new is not None}
    kept = set(TargetImage.objects.filter(image__in=copied).values_list("image", flat=True))
    # Only once the rows name the copies for good: a rolled-back migration leaves copies, never a row
    # naming a deleted file.
    transaction.on_commit(lambda: [default_storage.delete(old) for old in sorted(copied - kept)])


def _copied(old: str) -> str | None:
    """The name of a new copy of the stored file ``old``; None (and logged) when it is not there."""
    if not default_storage.exists(old):
        logger.warning("stimulus file %s is not in storage: its rows keep that name", old)
        return None
    with default_storage.open(old, "rb") as stored:
        return default_storage.save(f"stimuli/{uuid.uuid4().hex}.png", stored)


class Migration(migrations.Migration):

    dependencies = [
        ('generation', '0010_delivery_status_labels'),
    ]

    operations = [
        migrations.RunPython(stimulus_files_rename, migrations.RunPython.noop),
    ]
