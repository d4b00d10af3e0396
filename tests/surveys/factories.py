"""Bulk data for tests: studies with real PNG stimuli, made without running the engine, and the
demo network registered as a researcher would register it."""

import io
import itertools
import json
import os
import zipfile
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.files import File
from django.core.files.base import ContentFile
from PIL import Image

from iri_engine.spec import IMAGENET_MEAN, IMAGENET_STD, IriCriterion
from surveys.generation import services as generation
from surveys.generation.models import (
    GenerationJob,
    JobStatus,
    RegisteredModel,
    Stimulus,
    TargetImage,
    TargetSet,
    opaque_png_name,
)
from surveys.scoring.services import study_create

_counter = itertools.count()
# How the demo network (iri_engine.demo) is registered: its input size, normalisation and outputs.
DEMO_SPEC = {"architecture": "resnet18", "input_size": 64, "mean": list(IMAGENET_MEAN), "std": list(IMAGENET_STD),
             "num_classes": 16}


def png_bytes(colour: tuple[int, int, int], size: int = 16) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (size, size), colour).save(buffer, format="PNG")
    return buffer.getvalue()


def zip_bytes(members: dict[str, bytes]) -> bytes:
    """A zip of these files, e.g. {"cat/01.png": ...}: folders name the images' categories."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def researcher(username: str = "researcher"):
    return get_user_model().objects.create_user(username=username, password="pw-for-tests-only", is_staff=True)


def registered_model(owner, *, layers=("layer1", "layer2", "layer3")) -> RegisteredModel:
    return RegisteredModel.objects.create(owner=owner, name=f"model-{next(_counter)}", architecture="resnet18",
                                          input_size=32, layer_names=list(layers), num_classes=10)


CATEGORIES = ("bird", "car", "dog", "ship")
# What the engine's judge says of an IRI that meets the default criterion (iri_engine.validity.judge).
PASSING_VERDICT = {"passes": True, "reasons": [], "criterion": IriCriterion().to_dict(),
                   "null": {"layer": "layer2", "spearman": 0.5, "pearson": 0.5, "db_snr": 3.0, "pairs": 6, "images": 4,
                            "kind": "different_category"}}


def finished_job(owner, *, n_items: int = 4, layer: str = "layer2", layers: tuple[str, ...] | None = None,
                 size: int = 16) -> GenerationJob:
    """A done job with n IRIs per layer; target, seed and IRI images have distinct colours; target i is
    of category CATEGORIES[i % 4]."""
    layers = layers or (layer,)
    model = registered_model(owner, layers=("layer1", *layers))
    target_set = TargetSet.objects.create(owner=owner, name=f"targets-{next(_counter)}")
    job = GenerationJob.objects.create(owner=owner, model=model, target_set=target_set, status=JobStatus.DONE,
                                       config={"layers": list(layers), "loss": "reg_free", "seed_type": "super-noise"})
    for index in range(n_items):
        target = TargetImage.objects.create(target_set=target_set, name=f"t{index}.png", sha256=f"{index:064d}",
                                            category=CATEGORIES[index % len(CATEGORIES)])
        target.image.save(f"t{index}.png", ContentFile(png_bytes((200, index * 20, 0), size)))
        for depth, layer_name in enumerate(layers):
            stimulus = Stimulus(job=job, target=target, layer=layer_name, final_rep_loss=0.01, wall_seconds=1.0,
                                optimizer="ngd", config=job.config, code_version="test", passes=True,
                                verdict=PASSING_VERDICT)
            # Stored as the generation stores them: names that say nothing (opaque_png_name).
            stimulus.target_png.save(opaque_png_name(), ContentFile(png_bytes((200, index * 20, 0), size)), save=False)
            stimulus.seed_png.save(opaque_png_name(), ContentFile(png_bytes((0, 0, 200 - index * 20), size)), save=False)
            stimulus.iri_png.save(opaque_png_name(), ContentFile(png_bytes((100 + depth * 40, 100, index * 20), size)),
                                  save=False)
            stimulus.save()
    return job


def stimulus_set(*, conditions: int = 2, targets: int = 4, seeds: bool = True, size: int = 16) -> tuple[dict, dict]:
    """A stimulus set made elsewhere, as its maker would zip it (docs/stimulus-import.md): (manifest,
    {path: PNG bytes}). Condition c stands for model-c at layer3; target i is of category CATEGORIES[i % 4];
    targets, IRIs and seeds have distinct colours."""
    manifest = {"conditions": [{"name": f"cond-{c}", "model": f"model-{c}", "layer": "layer3"}
                               for c in range(conditions)], "items": []}
    files = {}
    for i in range(targets):
        files[f"targets/t{i}.png"] = png_bytes((200, i * 20, 0), size)
        for c in range(conditions):
            item = {"condition": f"cond-{c}", "target": f"targets/t{i}.png", "iri": f"iris/cond-{c}/t{i}.png",
                    "category": CATEGORIES[i % len(CATEGORIES)]}
            files[item["iri"]] = png_bytes((100 + c * 40, 100, i * 20), size)
            if seeds:
                item["seed"] = f"seeds/cond-{c}/t{i}.png"
                files[item["seed"]] = png_bytes((0, 0, 200 - i * 20), size)
            manifest["items"].append(item)
    return manifest, files


def stimulus_set_zip(manifest: dict, files: dict[str, bytes]) -> bytes:
    """The zip a researcher uploads: manifest.json at its root beside the images."""
    return zip_bytes({"manifest.json": json.dumps(manifest).encode(), **files})


# A test's study starts with no practice, gate or catch trials (a researcher's starts with all three,
# StudyDesign's defaults), so that each test adds only the checks it is about.
BARE_DESIGN = {"practice": False, "gate": None, "catch_every": 0}


def study(owner, *, n_items: int = 4, jobs: int = 1, paradigm: str = "2afc", design: dict | None = None,
          layers: tuple[str, ...] | None = None, size: int = 16, completion_url: str = "", language: str = "en"):
    design = {**BARE_DESIGN, **(design or {})}
    made = [finished_job(owner, n_items=n_items, layers=layers, size=size) for _ in range(jobs)]
    return study_create(owner=owner, name=f"study-{next(_counter)}", jobs=made, paradigm=paradigm, design=design,
                        completion_url=completion_url, language=language)


def demo_model_saved(owner, checkpoint: Path) -> RegisteredModel:
    """The demo network saved as registration saves it, without paying for an inspection."""
    model = RegisteredModel(owner=owner, name="demo", architecture="resnet18", input_size=64,
                            mean=DEMO_SPEC["mean"], std=DEMO_SPEC["std"], num_classes=16,
                            layer_names=["conv1", "layer1", "layer2", "layer3", "avgpool", "fc"])
    with open(checkpoint, "rb") as weights:
        model.weights.save("demo.pt", File(weights), save=False)
    model.save()
    return model


def demo_model_registered(owner, checkpoint: Path, *, name: str = "demo") -> RegisteredModel:
    """The demo network registered through the service, its checkpoint inspected as any upload is."""
    with open(checkpoint, "rb") as weights:
        return generation.model_register(owner=owner, name=name, weights=File(weights, "demo.pt"), **DEMO_SPEC)


class PickledPayload:
    """Unpickling this runs a shell command that creates ``marker``: what a malicious checkpoint carries."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))
