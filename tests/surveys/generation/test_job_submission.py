"""Submitting a generation job: the configuration is the engine's spec, checked before anything is saved."""

import pytest
from django.core.exceptions import ValidationError

from surveys.generation import services
from surveys.generation.models import GenerationJob

pytestmark = pytest.mark.django_db


def test_it_names_close_layers_when_one_is_unknown(researcher, demo_model, targets):
    with pytest.raises(ValidationError, match="layer3"):
        services.job_submit(owner=researcher, model=demo_model, target_set=targets,
                            config={"layers": ["layer33"], "iterations": 10})
    assert not GenerationJob.objects.exists()


def test_it_refuses_a_malformed_configuration(researcher, demo_model, targets):
    with pytest.raises(ValidationError, match="iterations"):
        services.job_submit(owner=researcher, model=demo_model, target_set=targets,
                            config={"layers": ["layer2"], "iterations": -5})
    assert not GenerationJob.objects.exists()


def test_it_refuses_another_researchers_model(other_researcher, demo_model, targets):
    with pytest.raises(ValidationError, match="your own"):
        services.job_submit(owner=other_researcher, model=demo_model, target_set=targets,
                            config={"layers": ["layer2"]})
    assert not GenerationJob.objects.exists()


def test_an_adversarial_job_needs_a_distance_and_never_scores_with_it(researcher, demo_model, targets):
    distance = {"model": demo_model.pk, "layers": ["layer1"]}
    with pytest.raises(ValidationError, match="perceptual distance"):
        services.job_submit(owner=researcher, model=demo_model, target_set=targets,
                            config={"layers": ["layer2"], "loss": "adversarial"})
    with pytest.raises(ValidationError, match="fooled by construction"):
        services.job_submit(owner=researcher, model=demo_model, target_set=targets,
                            config={"layers": ["layer2"], "loss": "adversarial"}, perceptual=distance,
                            proxies=[distance])
    assert not GenerationJob.objects.exists()
