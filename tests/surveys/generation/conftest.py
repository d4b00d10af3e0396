"""The demo network as registration saves it, and three coloured targets to make IRIs of."""

import pytest

from surveys.generation import services
from surveys.generation.models import RegisteredModel, TargetSet
from tests.surveys import factories


@pytest.fixture
def demo_model(researcher, checkpoint) -> RegisteredModel:
    """Saved as registration would save it, without paying for an inspection in each test."""
    return factories.demo_model_saved(researcher, checkpoint)


@pytest.fixture
def targets(researcher) -> TargetSet:
    colours = [(220, 30, 30), (30, 200, 40), (40, 40, 230)]
    uploads = [(f"t{i}.png", factories.png_bytes(c, size=80)) for i, c in enumerate(colours)]
    return services.target_set_create(owner=researcher, name="colours", uploads=uploads)
