"""The demo network as registration saves it, and three coloured targets to make IRIs of."""

import pytest
from django.core.files import File

from surveys.generation import services
from surveys.generation.models import RegisteredModel, TargetSet
from tests.surveys import factories


@pytest.fixture
def demo_model(researcher, checkpoint) -> RegisteredModel:
    """Saved as registration would save it, without paying for an inspection in each test."""
    model = RegisteredModel(owner=researcher, name="demo", architecture="resnet18", input_size=64,
                            mean=factories.DEMO_SPEC["mean"], std=factories.DEMO_SPEC["std"], num_classes=16,
                            layer_names=["conv1", "layer1", "layer2", "layer3", "avgpool", "fc"])
    with open(checkpoint, "rb") as weights:
        model.weights.save("demo.pt", File(weights), save=False)
    model.save()
    return model


@pytest.fixture
def targets(researcher) -> TargetSet:
    colours = [(220, 30, 30), (30, 200, 40), (40, 40, 230)]
    uploads = [(f"t{i}.png", factories.png_bytes(c, size=80)) for i, c in enumerate(colours)]
    return services.target_set_create(owner=researcher, name="colours", uploads=uploads)
