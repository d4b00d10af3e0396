"""Adding a model or a target set in admin, as a researcher does it: the form makes the row through
its service, and the page goes on to the list (it answered 500 once: admin asked the form for
save_m2m, which a form that saved through a service never had)."""

import io
import zipfile

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from surveys.generation.models import RegisteredModel, TargetSet
from tests.surveys import factories

pytestmark = pytest.mark.django_db


def test_a_researcher_adds_a_target_set_in_admin(client, researcher):
    client.force_login(researcher)

    response = client.post("/admin/generation/targetset/add/", {
        "name": "colours", "files": [SimpleUploadedFile("a.png", factories.png_bytes((1, 2, 3))),
                                     SimpleUploadedFile("b.png", factories.png_bytes((3, 2, 1)))]})

    assert response.status_code == 302 and response["Location"] == "/admin/generation/targetset/"
    target_set = TargetSet.objects.get()
    assert (target_set.owner, target_set.images.count()) == (researcher, 2)


def test_a_researcher_adds_a_model_in_admin_and_its_layers_are_listed(client, researcher, checkpoint):
    client.force_login(researcher)

    with open(checkpoint, "rb") as weights:
        response = client.post("/admin/generation/registeredmodel/add/", {
            "name": "demo", "architecture": "resnet18", "weights": weights, "input_size": 64,
            "mean_text": "0.485, 0.456, 0.406", "std_text": "0.229, 0.224, 0.225", "num_classes": 16, "init_seed": 0})

    assert response.status_code == 302 and response["Location"] == "/admin/generation/registeredmodel/"
    model = RegisteredModel.objects.get()
    assert model.owner == researcher and "layer3" in model.layer_names and len(model.checkpoint_sha256) == 64
    page = client.get(f"/admin/generation/registeredmodel/{model.pk}/change/").content.decode()
    assert "layer3" in page


def test_a_refused_upload_shows_on_the_form_and_saves_nothing(client, researcher):
    client.force_login(researcher)

    response = client.post("/admin/generation/targetset/add/", {
        "name": "broken", "files": [SimpleUploadedFile("cut.png", factories.png_bytes((1, 2, 3))[:40])]})

    assert response.status_code == 200 and "cut.png: not a readable image" in response.content.decode()
    assert not TargetSet.objects.exists()


def test_a_zip_larger_than_memory_uploads_is_read_from_its_temporary_file(client, researcher, settings):
    """Above FILE_UPLOAD_MAX_MEMORY_SIZE Django keeps an upload on disk; the zip is read from there."""
    rng = np.random.default_rng(1)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in ("cats/a.png", "dogs/b.png", "dogs/c.png"):
            image = io.BytesIO()
            Image.fromarray(rng.integers(0, 256, (500, 500, 3), dtype=np.uint8)).save(image, format="PNG")
            archive.writestr(name, image.getvalue())
    assert len(buffer.getvalue()) > settings.FILE_UPLOAD_MAX_MEMORY_SIZE
    client.force_login(researcher)

    response = client.post("/admin/generation/targetset/add/", {
        "name": "noise", "files": [SimpleUploadedFile("noise.zip", buffer.getvalue())]})

    assert response.status_code == 302
    assert sorted(TargetSet.objects.get().images.values_list("category", flat=True)) == ["cats", "dogs", "dogs"]
