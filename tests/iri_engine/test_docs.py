"""Every loss and option has its documentation page: formula, source and pictures that exist."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from iri_engine.spec import LOSS_PRESETS, GenerationSpec

DOCS = Path(__file__).resolve().parents[2] / "docs" / "engine"
# GenerationSpec fields documented together on another field's page.
SHARED_PAGES = {"seed_shared": "seed_type", "step_size": "optimizer", "iterations": "optimizer",
                "stages": "optimizer", "loss": None}


def _pages() -> list[Path]:
    options = [f.name for f in dataclasses.fields(GenerationSpec) if f.name not in SHARED_PAGES]
    return [DOCS / f"loss-{name}.md" for name in LOSS_PRESETS] + [DOCS / f"option-{name}.md" for name in options]


@pytest.mark.parametrize("page", _pages(), ids=lambda p: p.stem)
def test_each_loss_and_option_has_a_page_with_its_source_and_pictures(page):
    assert page.exists(), f"{page.name} is missing"
    text = page.read_text()
    assert "## Source" in text and "## IRIs it made" in text
    pictures = re.findall(r"!\[[^\]]*\]\(([^)]+\.png)\)", text)
    assert pictures, f"{page.name} shows no picture"
    for picture in pictures:
        assert (DOCS / picture).stat().st_size > 1000, f"{page.name}: {picture} is missing or empty"


def test_every_page_is_linked_from_the_index():
    index = (DOCS / "README.md").read_text()
    for page in _pages():
        assert f"({page.name})" in index, f"{page.name} is not linked from docs/engine/README.md"
