"""Bulk data for tests: studies with real PNG stimuli, made without running the engine."""

import io
import itertools

from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from PIL import Image

from surveys.generation.models import (
    GenerationJob,
    JobStatus,
    RegisteredModel,
    Stimulus,
    TargetImage,
    TargetSet,
)
from surveys.studies.services import study_create

_counter = itertools.count()


def png_bytes(colour: tuple[int, int, int], size: int = 16) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (size, size), colour).save(buffer, format="PNG")
    return buffer.getvalue()


def researcher(username: str = "researcher"):
    return get_user_model().objects.create_user(username=username, password="pw-for-tests-only", is_staff=True)


def registered_model(owner, *, layers=("layer1", "layer2", "layer3")) -> RegisteredModel:
    return RegisteredModel.objects.create(owner=owner, name=f"model-{next(_counter)}", architecture="resnet18",
                                          input_size=32, layer_names=list(layers), num_classes=10)


CATEGORIES = ("bird", "car", "dog", "ship")


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
                                optimizer="ngd", config=job.config, code_version="test")
            stimulus.target_png.save(f"{index}-t.png", ContentFile(png_bytes((200, index * 20, 0), size)), save=False)
            stimulus.seed_png.save(f"{index}-s.png", ContentFile(png_bytes((0, 0, 200 - index * 20), size)), save=False)
            stimulus.iri_png.save(f"{index}-i.png", ContentFile(png_bytes((100 + depth * 40, 100, index * 20), size)),
                                  save=False)
            stimulus.save()
    return job


def study(owner, *, n_items: int = 4, jobs: int = 1, paradigm: str = "2afc", design: dict | None = None,
          layers: tuple[str, ...] | None = None, size: int = 16, completion_url: str = ""):
    made = [finished_job(owner, n_items=n_items, layers=layers, size=size) for _ in range(jobs)]
    return study_create(owner=owner, name=f"study-{next(_counter)}", jobs=made, paradigm=paradigm, design=design,
                        completion_url=completion_url)
