"""Registering a network: its checkpoint is inspected before anything is saved, and never executed."""

import hashlib
import pickle

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile

from surveys.generation import services
from surveys.generation.models import RegisteredModel
from tests.surveys import factories

pytestmark = pytest.mark.django_db


def test_it_registers_a_checkpoint_with_its_layers_and_hash(researcher, checkpoint):
    model = factories.demo_model_registered(researcher, checkpoint, name="net")

    assert "layer3" in model.layer_names
    assert model.is_classifier and model.num_outputs == 16
    assert model.checkpoint_sha256 == hashlib.sha256(checkpoint.read_bytes()).hexdigest()


def test_it_refuses_a_pickled_payload_and_never_runs_it(researcher, tmp_path):
    marker = tmp_path / "pwned"
    upload = SimpleUploadedFile("evil.pt", pickle.dumps({"conv1.weight": factories.PickledPayload(str(marker))}))

    with pytest.raises(ValidationError, match="pickled Python objects"):
        services.model_register(owner=researcher, name="evil", weights=upload, **factories.DEMO_SPEC)

    assert not marker.exists()
    assert not RegisteredModel.objects.exists()


def test_it_explains_an_unknown_architecture(researcher):
    with pytest.raises(ValidationError, match="resnet18"):
        services.model_register(owner=researcher, name="typo", weights=None,
                                **{**factories.DEMO_SPEC, "architecture": "resnet19"})
    assert not RegisteredModel.objects.exists()
