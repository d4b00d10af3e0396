"""The REST API's target sets and IRIs, called as owner, other researcher and anonymous: a zip or several
images make a set, bad uploads are refused whole, and nobody reads another researcher's rows."""

import io
import zipfile
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.storage import default_storage
from rest_framework.test import APIClient

from surveys.generation.models import RegisteredModel, TargetImage, TargetSet
from tests.surveys import factories

pytestmark = pytest.mark.django_db
RED, GREEN = (220, 20, 20), (20, 220, 20)


def zipped(files: dict[str, bytes]) -> io.BytesIO:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    buffer.seek(0)
    buffer.name = "targets.zip"
    return buffer


def upload(name: str, data: bytes) -> io.BytesIO:
    file = io.BytesIO(data)
    file.name = name
    return file


def test_it_makes_a_target_set_from_a_zip_whose_folders_name_categories(researcher, api_as):
    archive = zipped({"cats/a.png": factories.png_bytes(RED), "dogs/b.png": factories.png_bytes(GREEN)})

    response = api_as(researcher).post("/api/target-sets/", {"name": "pets", "files": archive}, format="multipart")

    assert response.status_code == 201, response.content
    assert response.json()["image_count"] == 2
    assert {(i["name"], i["category"]) for i in response.json()["images"]} == {("cats/a.png", "cats"),
                                                                               ("dogs/b.png", "dogs")}
    assert TargetSet.objects.get().owner == researcher


def test_it_makes_a_target_set_from_several_images(researcher, api_as):
    files = [upload("red.png", factories.png_bytes(RED)), upload("green.png", factories.png_bytes(GREEN))]

    response = api_as(researcher).post("/api/target-sets/", {"name": "two", "files": files}, format="multipart")

    assert response.status_code == 201, response.content
    assert sorted(TargetImage.objects.values_list("name", flat=True)) == ["green.png", "red.png"]


def test_it_refuses_an_upload_with_a_broken_image_and_stores_nothing(researcher, api_as):
    files = [upload("red.png", factories.png_bytes(RED)), upload("broken.png", b"not a png at all")]

    response = api_as(researcher).post("/api/target-sets/", {"name": "bad", "files": files}, format="multipart")

    assert response.status_code == 400
    assert "broken.png" in " ".join(response.json()["detail"])
    assert not TargetSet.objects.exists()
    assert [path for path in Path(settings.MEDIA_ROOT).rglob("*") if path.is_file()] == []


def test_it_refuses_a_target_set_without_files(researcher, api_as):
    response = api_as(researcher).post("/api/target-sets/", {"name": "empty"}, format="multipart")

    assert response.status_code == 400
    assert "files" in response.json()
    assert not TargetSet.objects.exists()


def test_it_lists_only_the_researchers_own_target_sets(researcher, other_researcher, api_as):
    factories.finished_job(researcher)

    assert len(api_as(researcher).get("/api/target-sets/").json()) == 1
    assert api_as(other_researcher).get("/api/target-sets/").json() == []


def test_it_hides_a_target_set_from_another_researcher(researcher, other_researcher, api_as):
    target_set = factories.finished_job(researcher).target_set

    assert api_as(other_researcher).get(f"/api/target-sets/{target_set.pk}/").status_code == 404
    assert api_as(other_researcher).delete(f"/api/target-sets/{target_set.pk}/").status_code == 404
    assert TargetSet.objects.filter(pk=target_set.pk).exists()


def test_it_deletes_an_unused_target_set_and_its_files(researcher, api_as, django_capture_on_commit_callbacks):
    made = api_as(researcher).post("/api/target-sets/", {"name": "one", "files": [
        upload("red.png", factories.png_bytes(RED))]}, format="multipart").json()
    stored = TargetImage.objects.get().image.name

    with django_capture_on_commit_callbacks(execute=True):  # files go once the delete commits
        response = api_as(researcher).delete(f"/api/target-sets/{made['id']}/")

    assert response.status_code == 204
    assert not TargetSet.objects.exists()
    assert not default_storage.exists(stored)


def test_it_keeps_a_target_set_a_job_used(researcher, api_as):
    target_set = factories.finished_job(researcher).target_set

    response = api_as(researcher).delete(f"/api/target-sets/{target_set.pk}/")

    assert response.status_code == 400
    assert "used by a generation job" in response.json()["detail"][0]
    assert TargetSet.objects.filter(pk=target_set.pk).exists()


def test_it_serves_a_jobs_iris_with_their_metrics_and_images(researcher, api_as):
    job = factories.finished_job(researcher, n_items=3)

    stimuli = api_as(researcher).get(f"/api/jobs/{job.pk}/stimuli/").json()

    assert len(stimuli) == 3
    first = stimuli[0]
    assert (first["layer"], first["target"], first["final_rep_loss"]) == ("layer2", "t0.png", 0.01)
    assert set(first["images"]) == {"target", "seed", "iri"}
    image = api_as(researcher).get(first["images"]["iri"])
    assert image.status_code == 200
    assert b"".join(image.streaming_content).startswith(b"\x89PNG")
    assert "loss_curve" not in first  # a value per iteration: on each IRI's own page only
    assert api_as(researcher).get(f"/api/stimuli/{first['id']}/").json()["loss_curve"] == []


def test_it_hides_a_jobs_iris_from_another_researcher(researcher, other_researcher, api_as):
    job = factories.finished_job(researcher, n_items=1)
    stimulus = job.stimuli.get()

    assert api_as(other_researcher).get(f"/api/jobs/{job.pk}/stimuli/").status_code == 404
    assert api_as(other_researcher).get(f"/api/stimuli/{stimulus.pk}/").status_code == 404
    assert api_as(other_researcher).get(f"/api/stimuli/{stimulus.pk}/iri.png").status_code == 404


def test_it_refuses_a_model_with_a_zero_std_and_stores_nothing(researcher, api_as):
    response = api_as(researcher).post("/api/models/", {
        "name": "m", "architecture": "resnet18", "input_size": 32, "mean": [0.5, 0.5, 0.5], "std": [0.2, 0.0, 0.2],
        "weights": upload("w.safetensors", b"never read")}, format="multipart")

    assert response.status_code == 400
    assert response.json() == {"detail": ["Every std value must be positive."]}
    assert not RegisteredModel.objects.exists()
    assert [path for path in Path(settings.MEDIA_ROOT).rglob("*") if path.is_file()] == []


def test_lists_in_a_multipart_body_may_be_spelt_with_indexes_and_a_misspelt_one_is_still_refused(researcher, api_as):
    """mean[0], mean[1], ...: DRF's list notation, what clients that cannot repeat a key send (the
    deployment check's Playwright client does). Read as the list; a misspelt name stays an error."""
    fields = {"name": "m", "architecture": "resnet18", "input_size": 32}
    indexed = {"mean[0]": 0.5, "mean[1]": 0.5, "mean[2]": 0.5, "std[0]": 0.2, "std[1]": 0.0, "std[2]": 0.2}

    read = api_as(researcher).post("/api/models/", {**fields, **indexed, "weights": upload("w.safetensors", b"x")},
                                   format="multipart")
    misspelt = api_as(researcher).post("/api/models/", {**fields, **indexed, "meen[0]": 0.5,
                                                        "weights": upload("w.safetensors", b"x")}, format="multipart")

    assert read.json() == {"detail": ["Every std value must be positive."]}  # the lists arrived, std[1] is 0
    assert misspelt.status_code == 400, misspelt.json()
    assert misspelt.json()["non_field_errors"][0].startswith("Unknown fields: meen[0].")
    assert not RegisteredModel.objects.exists()


def test_it_hides_a_model_from_another_researcher(researcher, other_researcher, api_as):
    model = factories.registered_model(researcher)

    assert api_as(researcher).get(f"/api/models/{model.pk}/").json()["name"] == model.name
    assert api_as(other_researcher).get(f"/api/models/{model.pk}/").status_code == 404


@pytest.mark.parametrize("path", ["/api/target-sets/", "/api/models/1/", "/api/jobs/1/stimuli/", "/api/stimuli/1/"])
def test_it_refuses_anyone_without_credentials(path):
    assert APIClient().get(path).status_code == 401
