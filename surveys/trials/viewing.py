"""Viewing geometry from the virtual chinrest (Li et al. 2020; docs/method.md §2, "Presentation").

The participant's page measures two things: how many CSS pixels a credit card spans (pixels per mm)
and, from the blind spot, how far the eyes are from the screen. From these the server works out the
pixels per degree of visual angle the page then sizes images with. A measurement outside what a
person at a screen can produce is a failed calibration: the page falls back to window-sized images
and every response says so.
"""

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from surveys.common.specs import SpecError, flag, known_keys

# What a real screen and a seated person give: 1-40 CSS px per mm (25-1000 dpi), 20-150 cm away.
PX_PER_MM_RANGE = (1.0, 40.0)
DISTANCE_MM_RANGE = (200.0, 1500.0)


def _number(value: Any, *, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
        raise SpecError(f"{field} must be a positive number.")
    return float(value)


@dataclass(frozen=True)
class Viewing:
    """One participant's calibration: raw measures and what follows from them."""

    skipped: bool
    px_per_mm: float | None = None
    distance_mm: float | None = None

    @classmethod
    def from_dict(cls, data: Any) -> "Viewing":
        given = known_keys(data, {"skipped", "px_per_mm", "distance_mm"}, what="viewing")
        if flag(given.get("skipped", False), field="skipped"):
            return cls(skipped=True)
        if "px_per_mm" not in given or "distance_mm" not in given:
            raise SpecError("Send px_per_mm and distance_mm, or skipped: true.")
        return cls(skipped=False, px_per_mm=_number(given["px_per_mm"], field="px_per_mm"),
                   distance_mm=_number(given["distance_mm"], field="distance_mm"))

    @property
    def plausible(self) -> bool:
        if self.skipped:
            return False
        low_px, high_px = PX_PER_MM_RANGE
        low_d, high_d = DISTANCE_MM_RANGE
        return low_px <= self.px_per_mm <= high_px and low_d <= self.distance_mm <= high_d

    @property
    def px_per_deg(self) -> float | None:
        """Pixels per degree at the centre of gaze: one degree spans 2 d tan(0.5 deg) mm there."""
        if not self.plausible:
            return None
        return self.px_per_mm * 2 * self.distance_mm * math.tan(math.radians(0.5))

    def to_dict(self) -> dict:
        failure = "" if self.plausible else ("skipped" if self.skipped else "implausible")
        return {"calibrated": self.plausible, "failure": failure, "px_per_mm": self.px_per_mm,
                "distance_mm": self.distance_mm, "px_per_deg": self.px_per_deg}


def stimulus_px(*, viewing: Mapping, degrees: float) -> float | None:
    """The CSS width of an image `degrees` wide, centred on the line of sight; None without calibration."""
    if not viewing.get("calibrated"):
        return None
    return 2 * viewing["distance_mm"] * math.tan(math.radians(degrees / 2)) * viewing["px_per_mm"]
