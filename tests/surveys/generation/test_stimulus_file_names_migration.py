"""Migration 0011: stimuli stored under names that said their job and role (stimuli/job<N>/<hex>-t.png)
or shared an imported target image's file get names that say nothing, their bytes unchanged."""

import importlib
import logging
import re

import pytest
from django.apps import apps
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from surveys.generation.models import Stimulus
from tests.surveys import factories

pytestmark = pytest.mark.django_db

migration = importlib.import_module("surveys.generation.migrations.0011_stimulus_opaque_file_names")
OPAQUE = re.compile(r"stimuli/[0-9a-f]{32}\.png")
FIELDS = ("target_png", "seed_png", "iri_png")


def stored_as_before(stimulus: Stimulus, *, job: int) -> dict[str, bytes]:
    """The stimulus's files moved to the old names; {old name: bytes}."""
    before = {}
    for field, role in zip(FIELDS, "tsi", strict=True):
        data = getattr(stimulus, field).read()
        getattr(stimulus, field).close()
        default_storage.delete(getattr(stimulus, field).name)
        old = default_storage.save(f"stimuli/job{job}/{stimulus.public_id.hex}-{role}.png", ContentFile(data))
        setattr(stimulus, field, old)
        before[old] = data
    stimulus.save()
    return before


def migrate(capture) -> None:
    with capture(execute=True):
        migration.stimulus_files_rename(apps, None)


def test_old_names_become_opaque_with_the_same_bytes_and_the_old_files_go(django_capture_on_commit_callbacks):
    job = factories.finished_job(factories.researcher(), n_items=2)
    stimuli = list(job.stimuli.order_by("pk"))
    before = {stimulus.pk: stored_as_before(stimulus, job=job.pk) for stimulus in stimuli}

    migrate(django_capture_on_commit_callbacks)

    for stimulus in Stimulus.objects.filter(pk__in=before):
        old_bytes = list(before[stimulus.pk].values())
        for field, data in zip(FIELDS, old_bytes, strict=True):
            name = getattr(stimulus, field).name
            assert OPAQUE.fullmatch(name) and default_storage.open(name).read() == data
    assert not any(default_storage.exists(old) for names in before.values() for old in names)


def test_running_it_again_changes_nothing(django_capture_on_commit_callbacks):
    job = factories.finished_job(factories.researcher(), n_items=2)
    for stimulus in job.stimuli.all():
        stored_as_before(stimulus, job=job.pk)
    migrate(django_capture_on_commit_callbacks)
    once = list(Stimulus.objects.order_by("pk").values_list(*FIELDS))

    migrate(django_capture_on_commit_callbacks)

    assert list(Stimulus.objects.order_by("pk").values_list(*FIELDS)) == once
    assert all(default_storage.exists(name) for row in once for name in row)


def test_a_missing_file_is_left_alone_and_logged(django_capture_on_commit_callbacks, caplog):
    job = factories.finished_job(factories.researcher(), n_items=1)
    stimulus = job.stimuli.get()
    stored_as_before(stimulus, job=job.pk)
    default_storage.delete(stimulus.seed_png.name)

    with caplog.at_level(logging.WARNING):
        migrate(django_capture_on_commit_callbacks)

    stimulus.refresh_from_db()
    assert stimulus.seed_png.name == f"stimuli/job{job.pk}/{stimulus.public_id.hex}-s.png"
    assert OPAQUE.fullmatch(stimulus.target_png.name) and OPAQUE.fullmatch(stimulus.iri_png.name)
    assert stimulus.seed_png.name in caplog.text


def test_a_file_shared_with_a_target_image_is_copied_and_kept_for_the_target(django_capture_on_commit_callbacks):
    """An import stored a target's file once, named by its target image and its stimuli alike."""
    job = factories.finished_job(factories.researcher(), n_items=1)
    stimulus = job.stimuli.get()
    target = stimulus.target
    stimulus.target_png = target.image.name
    stimulus.save()

    migrate(django_capture_on_commit_callbacks)

    stimulus.refresh_from_db()
    target.refresh_from_db()
    assert OPAQUE.fullmatch(stimulus.target_png.name)
    assert default_storage.exists(target.image.name)
    assert default_storage.open(stimulus.target_png.name).read() == default_storage.open(target.image.name).read()
