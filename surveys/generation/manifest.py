"""The manifest of a stimulus set made elsewhere (docs/stimulus-import.md) as typed, frozen specs.

A set is imported as a zip holding ``manifest.json`` at its root and the images it names. The
manifest declares the set's conditions (a name, and the model and layer it stands for, as labels:
IRIS never loads that model) and its items: per item, the condition, the target image, the IRI and
optionally the seed the IRI was made from, the target's category, and whether the IRI passed its
maker's criterion. ``StimulusManifest.from_dict`` is the one edge where a manifest is checked: one
SpecError that names the item and the field. ``to_dict`` gives back JSON that ``from_dict`` turns
into an equal spec.

Once imported, the set is a generation job of kind "imported": its ``config`` is ``ImportedSet``
(the conditions), each IRI's ``Stimulus.config`` is its ``ImportedItem``, and a condition's name is
its ``layer`` wherever a job's layer keys a condition (Stimulus.layer, Condition.layer).
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from surveys.common.specs import SpecError, flag, known_keys, text

MANIFEST_NAME = "manifest.json"
MAX_MANIFEST_BYTES = 4 * 1024 * 1024
MAX_ITEMS = 5000  # IRIs in one set, as many as images in one target upload
MAX_CONDITIONS = 100
# What the rows that keep them can hold: a condition's label (name, model and layer) fits in
# Condition.label (300), its name in Stimulus.layer (200); a path in TargetImage.name (200) and a
# category in TargetImage.category (100).
MAX_CONDITION_NAME_CHARS = 80
MAX_LABEL_CHARS = 100
MAX_PATH_CHARS = 200
MAX_CATEGORY_CHARS = 100
IMAGE_FIELDS = ("target", "iri", "seed")  # an item's fields that name an image in the zip


@dataclass(frozen=True)
class ImportedCondition:
    """One cell of the set's design: a name, and the model and layer its IRIs were made for (labels)."""

    name: str
    model: str
    layer: str

    @property
    def label(self) -> str:
        """How studies and exports name it (Condition.label)."""
        return f"{self.name} ({self.model} / {self.layer})"

    @classmethod
    def from_dict(cls, data: Any, *, where: str) -> "ImportedCondition":
        data = known_keys(data, ("name", "model", "layer"), what=where)
        return cls(name=_label(data.get("name"), field=f"{where}.name", limit=MAX_CONDITION_NAME_CHARS),
                   model=_label(data.get("model"), field=f"{where}.model", limit=MAX_LABEL_CHARS),
                   layer=_label(data.get("layer"), field=f"{where}.layer", limit=MAX_LABEL_CHARS))

    def to_dict(self) -> dict:
        return {"name": self.name, "model": self.model, "layer": self.layer}


@dataclass(frozen=True)
class ImportedItem:
    """One IRI: its condition, and the paths inside the zip of its target, itself and its seed."""

    condition: str
    target: str
    iri: str
    seed: str | None = None  # the image the IRI was optimised from, if its maker kept it
    category: str = ""  # the target's category (classification needs one)
    passes: bool = True  # its maker's verdict: an IRI by their criterion

    @classmethod
    def from_dict(cls, data: Any, *, where: str) -> "ImportedItem":
        data = known_keys(data, ("condition", "target", "iri", "seed", "category", "passes"), what=where)
        seed = data.get("seed")
        return cls(
            condition=_label(data.get("condition"), field=f"{where}.condition", limit=MAX_CONDITION_NAME_CHARS),
            target=_label(data.get("target"), field=f"{where}.target", limit=MAX_PATH_CHARS),
            iri=_label(data.get("iri"), field=f"{where}.iri", limit=MAX_PATH_CHARS),
            seed=None if seed is None else _label(seed, field=f"{where}.seed", limit=MAX_PATH_CHARS),
            category=_label(data.get("category", ""), field=f"{where}.category", limit=MAX_CATEGORY_CHARS, blank=True),
            passes=flag(data.get("passes", True), field=f"{where}.passes"))

    def to_dict(self) -> dict:
        return {"condition": self.condition, "target": self.target, "iri": self.iri, "seed": self.seed,
                "category": self.category, "passes": self.passes}

    def images(self) -> dict[str, str]:
        """{field: path in the zip} of the images it names."""
        return {name: getattr(self, name) for name in IMAGE_FIELDS if getattr(self, name) is not None}


@dataclass(frozen=True)
class ImportedSet:
    """What an imported job keeps of its manifest (GenerationJob.config): its conditions, in order."""

    conditions: tuple[ImportedCondition, ...]

    @classmethod
    def from_dict(cls, data: Any) -> "ImportedSet":
        data = known_keys(data, ("conditions",), what="manifest")
        conditions = tuple(ImportedCondition.from_dict(condition, where=f"conditions[{index}]") for index, condition
                           in enumerate(_listed(data, "conditions", most=MAX_CONDITIONS)))
        names = [condition.name for condition in conditions]
        for index, name in enumerate(names):
            if name in names[:index]:
                raise SpecError(f"conditions[{index}].name: {name!r} names an earlier condition too.")
        return cls(conditions=conditions)

    def to_dict(self) -> dict:
        return {"conditions": [condition.to_dict() for condition in self.conditions]}

    def condition(self, name: str) -> ImportedCondition:
        return next(condition for condition in self.conditions if condition.name == name)


@dataclass(frozen=True)
class StimulusManifest:
    """A whole manifest: the set's conditions and its items. Build it with ``from_dict``."""

    conditions: tuple[ImportedCondition, ...]
    items: tuple[ImportedItem, ...]

    @property
    def imported_set(self) -> ImportedSet:
        return ImportedSet(conditions=self.conditions)

    @classmethod
    def from_dict(cls, data: Any) -> "StimulusManifest":
        data = known_keys(data, ("conditions", "items"), what="manifest")
        conditions = ImportedSet.from_dict({"conditions": data.get("conditions")}).conditions
        items = tuple(ImportedItem.from_dict(item, where=f"items[{index}]") for index, item
                      in enumerate(_listed(data, "items", most=MAX_ITEMS)))
        manifest = cls(conditions=conditions, items=items)
        manifest._items_check()
        return manifest

    def to_dict(self) -> dict:
        return {"conditions": [condition.to_dict() for condition in self.conditions],
                "items": [item.to_dict() for item in self.items]}

    def images(self) -> dict[str, str]:
        """{path in the zip: the first field that names it, e.g. "items[3].iri"}, in manifest order."""
        named: dict[str, str] = {}
        for index, item in enumerate(self.items):
            for field, path in item.images().items():
                named.setdefault(path, f"items[{index}].{field}")
        return named

    def _items_check(self) -> None:
        """What no single item shows: a known condition, one IRI per target and condition, one category
        per target, seeds for all items or none, and no condition left empty."""
        names = [condition.name for condition in self.conditions]
        cells: dict[tuple[str, str], int] = {}
        categories: dict[str, tuple[str, int]] = {}
        for index, item in enumerate(self.items):
            where = f"items[{index}]"
            if item.condition not in names:
                raise SpecError(f"{where}.condition: {item.condition!r} is not one of the conditions "
                                f"({', '.join(names)}).")
            if (item.condition, item.target) in cells:
                raise SpecError(f"{where}: items[{cells[item.condition, item.target]}] is already the IRI of "
                                f"{item.target!r} in {item.condition!r}; a condition has one IRI per target.")
            cells[item.condition, item.target] = index
            category, first = categories.setdefault(item.target, (item.category, index))
            if item.category != category:
                raise SpecError(f"{where}.category: {item.category!r}, but items[{first}] gave {item.target!r} "
                                f"the category {category!r}; a target has one category.")
            if (item.seed is None) != (self.items[0].seed is None):
                raise SpecError(f"{where}.seed: {'missing' if item.seed is None else 'given'}, unlike items[0]'s; "
                                "give every item a seed, or none.")
        used = {item.condition for item in self.items}
        for index, name in enumerate(names):
            if name not in used:
                raise SpecError(f"conditions[{index}]: no item belongs to {name!r}.")


def _listed(data: Mapping, key: str, *, most: int) -> list:
    """``data[key]``: a list of one to ``most`` entries."""
    value = data.get(key)
    if not isinstance(value, list) or not value:
        raise SpecError(f"{key} must be a non-empty list.")
    if len(value) > most:
        raise SpecError(f"{key} lists {len(value)}; an imported set holds at most {most}.")
    return value


def _label(value: Any, *, field: str, limit: int, blank: bool = False) -> str:
    """A name, label or path: text (non-empty unless ``blank``) on one line, as admin and exports show it."""
    value = text(value, field=field, limit=limit, blank=blank)
    if any(ord(character) < 32 for character in value):
        raise SpecError(f"{field} holds a control character (a line break, a tab).")
    return value
