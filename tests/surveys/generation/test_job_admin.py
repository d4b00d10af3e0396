"""Submitting a job in admin, as a researcher does: layers offered from the network itself."""

import pytest

from surveys.generation.models import GenerationJob

pytestmark = pytest.mark.django_db
FORM = {"loss": "reg_free", "seed_type": "super-noise", "optimizer": "ngd", "iterations": 10, "step_size": 1.0,
        "keep": "best", "parameterization": "pixel", "precision": "auto", "random_seed": 0, "perceptual": "",
        "max_rep_loss": 0.1, "criterion_validity": "on", "criterion_class_agreement": "on", "null": "different_category"}


def test_the_admin_submits_a_job_with_layers_offered_from_the_network(client, researcher, demo_model, targets):
    client.force_login(researcher)
    page = client.get("/admin/generation/generationjob/submit/")
    assert f'value="{demo_model.pk}|layer3"' in page.content.decode()

    response = client.post("/admin/generation/generationjob/submit/", {
        **FORM, "layers": [f"{demo_model.pk}|layer2"], "target_set": targets.pk, "seed_shared": "on",
        "proxies": f"{demo_model.name}: layer1"})

    job = GenerationJob.objects.get()
    assert response.status_code == 302
    assert job.config["layers"] == ["layer2"] and job.proxies == [{"model": demo_model.pk, "layers": ["layer1"]}]


def test_the_admin_shows_a_bad_distance_and_saves_nothing(client, researcher, demo_model, targets):
    client.force_login(researcher)
    response = client.post("/admin/generation/generationjob/submit/", {
        **FORM, "layers": [f"{demo_model.pk}|layer2"], "target_set": targets.pk, "proxies": "no-such-model: layer1"})

    assert response.status_code == 200
    assert "no-such-model" in response.content.decode()
    assert not GenerationJob.objects.exists()
