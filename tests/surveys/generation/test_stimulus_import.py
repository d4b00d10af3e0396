"""Importing a stimulus set made elsewhere (docs/stimulus-import.md): a zip with its manifest becomes a
finished job of kind "imported" that studies of every paradigm are built from; a bad zip is refused
with one error naming the item and the field, and leaves no row and no file behind."""

import csv
import io
import json
import re
from collections import Counter
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from PIL import Image, PngImagePlugin

from surveys.generation.import_services import stimulus_set_import
from surveys.generation.manifest import MAX_ITEMS, StimulusManifest
from surveys.generation.models import GenerationJob, JobKind, JobStatus, Stimulus, TargetImage, TargetSet
from surveys.scoring.exports import stimuli_csv_rows
from surveys.scoring.services import study_create
from surveys.studies.paradigms import PARADIGMS
from surveys.trials import services as trials
from surveys.trials.models import TrialKind
from tests.surveys import factories

pytestmark = pytest.mark.django_db


def stored_files(settings) -> list[Path]:
    root = Path(settings.MEDIA_ROOT)
    return sorted(path for path in root.rglob("*") if path.is_file()) if root.exists() else []


def imported(owner, manifest: dict, files: dict[str, bytes], *, name: str = "lab-x") -> GenerationJob:
    return stimulus_set_import(owner=owner, name=name, filename="set.zip",
                               data=factories.stimulus_set_zip(manifest, files))


def test_it_imports_a_set_as_a_finished_job_with_the_manifests_conditions_items_and_categories(researcher,
                                                                                                settings):
    manifest, files = factories.stimulus_set(conditions=2, targets=4)
    manifest["items"][3]["passes"] = False

    job = imported(researcher, manifest, files)

    assert (job.kind, job.status, job.model, job.owner) == (JobKind.IMPORTED, JobStatus.DONE, None, researcher)
    assert job.layers == ["cond-0", "cond-1"]
    assert job.cell_labels("cond-1").label == "cond-1 (model-1 / layer3)"
    assert job.target_set.name == "lab-x"
    assert sorted(job.target_set.images.values_list("name", "category")) == [
        ("targets/t0.png", "bird"), ("targets/t1.png", "car"), ("targets/t2.png", "dog"), ("targets/t3.png", "ship")]
    stimuli = list(job.stimuli.select_related("target").order_by("pk"))
    assert [(s.layer, s.target.name, s.passes) for s in stimuli][2:4] == [("cond-0", "targets/t1.png", True),
                                                                        ("cond-1", "targets/t1.png", False)]
    assert stimuli[5].config == {**manifest["items"][5], "passes": True}
    assert (stimuli[0].final_rep_loss, stimuli[0].proxy, stimuli[0].verdict) == (None, {}, {})
    # Each image file is stored once per folder: 4 targets (targets/, the researcher's) and their 4 copies
    # shown to participants (stimuli/, under names that say nothing), 8 IRIs, 8 seeds.
    assert len(stored_files(settings)) == 24
    assert stimuli[1].target_png.name == stimuli[0].target_png.name != stimuli[0].target.image.name
    assert all(re.fullmatch(r"stimuli/[0-9a-f]{32}\.png", getattr(stimulus, field).name)
               for stimulus in stimuli for field in ("target_png", "seed_png", "iri_png"))
    with stimuli[3].iri_png.open("rb") as stored:
        assert Image.open(stored).getpixel((0, 0)) == (140, 100, 20)


def test_it_stores_every_image_as_rgb_png_without_what_the_file_said_about_itself(researcher):
    manifest, files = factories.stimulus_set(conditions=1, targets=2)
    text = PngImagePlugin.PngInfo()
    text.add_text("Comment", "the metamer of t0 at layer3")
    buffer = io.BytesIO()
    Image.new("L", (16, 16), 77).save(buffer, format="PNG", pnginfo=text)
    files["iris/cond-0/t0.png"] = buffer.getvalue()
    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), (10, 200, 30)).save(buffer, format="JPEG", quality=100)
    files["iris/cond-0/t1.png"] = buffer.getvalue()

    job = imported(researcher, manifest, files)

    grey, jpeg = (Image.open(s.iri_png.open("rb")) for s in job.stimuli.order_by("pk"))
    assert (grey.format, grey.mode, grey.getpixel((0, 0)), grey.info) == ("PNG", "RGB", (77, 77, 77), {})
    assert (jpeg.format, jpeg.mode) == ("PNG", "RGB")


def test_the_manifest_docs_show_is_one_it_accepts():
    page = (Path(__file__).resolve().parents[3] / "docs" / "stimulus-import.md").read_text()
    example = json.loads(page.split("```json\n", 1)[1].split("```", 1)[0])

    manifest = StimulusManifest.from_dict(example)

    assert [c.label for c in manifest.conditions] == ["resnet50-layer3 (resnet50 / layer3)", "resnet50-fc (resnet50 / fc)"]
    assert [item.passes for item in manifest.items] == [True, True, False]


def test_its_manifest_round_trips_through_json():
    manifest = StimulusManifest.from_dict(factories.stimulus_set(conditions=3, targets=2, seeds=False)[0])

    assert StimulusManifest.from_dict(manifest.to_dict()) == manifest
    assert manifest.items[0].seed is None and manifest.items[0].passes is True


def _without(files: dict, path: str) -> dict:
    return {name: data for name, data in files.items() if name != path}


# (what is wrong, how the set is spoilt, what the refusal says)
REFUSALS = [
    ("a file missing from the zip", lambda m, f: (m, _without(f, "iris/cond-1/t2.png")),
     "items[5].iri: 'iris/cond-1/t2.png' is not in the zip."),
    ("an unknown condition", lambda m, f: ({**m, "items": [*m["items"][:3], {**m["items"][3], "condition": "cond-9"},
                                                          *m["items"][4:]]}, f),
     "manifest.json: items[3].condition: 'cond-9' is not one of the conditions (cond-0, cond-1)."),
    ("a verdict that is not true or false", lambda m, f: ({**m, "items": [*m["items"][:2], {
        **m["items"][2], "passes": "yes"}, *m["items"][3:]]}, f), "manifest.json: items[2].passes must be true or false."),
    ("a misspelt field", lambda m, f: ({**m, "items": [{**m["items"][0], "sead": "x.png"}, *m["items"][1:]]}, f),
     "manifest.json: Unknown items[0] options: sead."),
    ("an image that is not an image", lambda m, f: (m, {**f, "iris/cond-0/t1.png": b"GIF89a, or so it says"}),
     "items[2].iri (iris/cond-0/t1.png): not a readable image"),
    ("too many items", lambda m, f: ({**m, "items": m["items"] * (MAX_ITEMS // len(m["items"]) + 1)}, f),
     f"manifest.json: items lists {MAX_ITEMS + 8}; an imported set holds at most {MAX_ITEMS}."),
    ("two IRIs of one target in one condition", lambda m, f: ({**m, "items": [*m["items"], m["items"][0]]}, f),
     "manifest.json: items[8]: items[0] is already the IRI of 'targets/t0.png' in 'cond-0'"),
    ("a target given two categories", lambda m, f: ({**m, "items": [m["items"][0], {**m["items"][1], "category": "cat"},
                                                                    *m["items"][2:]]}, f),
     "manifest.json: items[1].category: 'cat', but items[0] gave 'targets/t0.png' the category 'bird'"),
    ("a seed left out of one item", lambda m, f: ({**m, "items": [*m["items"][:6], {
        k: v for k, v in m["items"][6].items() if k != "seed"}, m["items"][7]]}, f),
     "manifest.json: items[6].seed: missing, unlike items[0]'s; give every item a seed, or none."),
    ("an image of another size", lambda m, f: (m, {**f, "iris/cond-1/t0.png": factories.png_bytes((1, 2, 3), 32)}),
     "items[1].iri (iris/cond-1/t0.png): 32x32 pixels, but items[0].target (targets/t0.png) is 16x16"),
    ("a condition without items", lambda m, f: ({**m, "conditions": [*m["conditions"], {
        "name": "cond-2", "model": "m", "layer": "l"}]}, f), "manifest.json: conditions[2]: no item belongs to 'cond-2'."),
]


@pytest.mark.parametrize(("wrong", "spoil", "refusal"), REFUSALS, ids=[r[0] for r in REFUSALS])
def test_a_bad_set_is_refused_with_one_error_naming_the_item_and_leaves_nothing(researcher, settings, wrong, spoil,
                                                                                refusal):
    manifest, files = spoil(*factories.stimulus_set(conditions=2, targets=4))

    with pytest.raises(ValidationError) as error:
        imported(researcher, manifest, files)

    assert error.value.messages[0].startswith(refusal)
    assert len(error.value.messages) == 1
    assert [GenerationJob.objects.count(), TargetSet.objects.count(), TargetImage.objects.count(),
            Stimulus.objects.count()] == [0, 0, 0, 0]
    assert stored_files(settings) == []


@pytest.mark.parametrize(("members", "refusal"), [
    ({"targets/t0.png": factories.png_bytes((1, 1, 1))}, "set.zip: no manifest.json at the zip's root"),
    ({"manifest.json": b"{'conditions': []}"}, "manifest.json: not valid JSON"),
    ({"manifest.json": b"[]"}, "manifest.json: manifest must be a JSON object, not list."),
])
def test_a_zip_without_a_readable_manifest_is_refused(researcher, settings, members, refusal):
    with pytest.raises(ValidationError) as error:
        stimulus_set_import(owner=researcher, name="x", filename="set.zip", data=factories.zip_bytes(members))

    assert error.value.messages[0].startswith(refusal)
    assert (GenerationJob.objects.count(), stored_files(settings)) == (0, [])


def test_an_upload_that_is_not_a_zip_or_reuses_a_name_is_refused(researcher):
    manifest, files = factories.stimulus_set(conditions=1, targets=2)
    imported(researcher, manifest, files, name="taken")

    with pytest.raises(ValidationError, match=r"'set\.zip: not a zip file\.'"):
        stimulus_set_import(owner=researcher, name="x", filename="set.zip", data=factories.png_bytes((1, 1, 1)))
    with pytest.raises(ValidationError, match="already have a target set or imported stimulus set named 'taken'"):
        imported(researcher, manifest, files, name="taken")
    assert GenerationJob.objects.count() == 1


@pytest.mark.parametrize("paradigm", list(PARADIGMS))
def test_a_study_of_any_paradigm_is_built_from_an_imported_set_and_draws_its_trials(researcher, paradigm):
    job = imported(researcher, *factories.stimulus_set(conditions=2, targets=4))

    study = study_create(owner=researcher, jobs=[job], paradigm=paradigm, design=factories.BARE_DESIGN)
    participant = trials.participant_enter(study=study, source="plain", recruitment_id="p", recruitment_data={})

    assert list(study.conditions.values_list("layer", "label")) == [("cond-0", "cond-0 (model-0 / layer3)"),
                                                                    ("cond-1", "cond-1 (model-1 / layer3)")]
    main = participant.trials.filter(kind=TrialKind.MAIN)
    assert Counter(main.values_list("condition__layer", flat=True)) == {"cond-0": 4, "cond-1": 4}
    assert {trial.layout_spec.query.role for trial in main if trial.layout_spec.query} <= {"iri"}


def test_a_set_without_seeds_is_surveyed_in_2afc_against_other_targets_and_refused_against_seeds(researcher):
    job = imported(researcher, *factories.stimulus_set(conditions=1, targets=3, seeds=False))

    with pytest.raises(ValidationError, match="2AFC with the seed as the foil needs each IRI's seed"):
        study_create(owner=researcher, jobs=[job], design=factories.BARE_DESIGN)
    study = study_create(owner=researcher, jobs=[job], design={**factories.BARE_DESIGN, "foils": "other_target"})

    assert study.items.count() == 3


def test_an_imported_set_and_a_generated_job_are_compared_in_one_study(researcher):
    generated = factories.finished_job(researcher, n_items=4)
    job = imported(researcher, *factories.stimulus_set(conditions=1, targets=4))
    first = job.stimuli.order_by("pk").first()
    first.passes = False  # its maker's verdict keeps it out, as a failing IRI is kept out
    first.save()

    study = study_create(owner=researcher, jobs=[generated, job], design=factories.BARE_DESIGN)

    assert [(c.job_id, c.items.count()) for c in study.conditions.order_by("pk")] == [(generated.pk, 4), (job.pk, 3)]


def test_the_stimulus_export_names_an_imported_iris_model_and_layer_and_leaves_what_iris_measures_empty(researcher):
    job = imported(researcher, *factories.stimulus_set(conditions=2, targets=2))
    study = study_create(owner=researcher, jobs=[job], design=factories.BARE_DESIGN)

    header, *rows = csv.reader("".join(stimuli_csv_rows(study=study)).splitlines())
    first = dict(zip(header, rows[0], strict=True))

    assert len(rows) == 4
    assert (first["condition_label"], first["model"], first["layer"]) == ("cond-0 (model-0 / layer3)", "model-0",
                                                                          "layer3")
    assert (first["loss"], first["final_rep_loss"], first["proxy"], first["passes"]) == ("", "", "{}", "1")
