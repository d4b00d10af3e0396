"""Screenshots of each paradigm's trial screen, desktop and phone, for the README (docs/screenshots/).

Run: make test PYTEST_ARGS="-m slow tests/surveys/trials/test_screenshots.py" (with the usual TEST_* URLs).
Each shot is a real participant page served by the live test server, entered the way a participant
enters it, in headless Chromium (the phone is Chromium's mobile emulation at 375 px wide).
"""

import io
import random
from pathlib import Path

from django.core.files.base import ContentFile
from PIL import Image, ImageDraw, ImageFilter

from tests.surveys import factories
from tests.surveys.browser import PHONE, chromium
from tests.surveys.trials.scripted import enter, wait_for_trial

OUT = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
DESKTOP = {"viewport": {"width": 1280, "height": 800}}
# Classification's image and mask are shown long enough to photograph; the real default is 300 ms each.
PARADIGMS = {
    "2afc": {},
    "similarity": {},
    "matching": {"k": 3},
    "classification": {"fixation_ms": 0, "stimulus_ms": 2000, "mask_ms": 2000},
}


def picture(seed: int, *, blur: float) -> bytes:
    """A soft blob picture; blur stands in for how far an IRI is from its target."""
    rng = random.Random(seed)
    image = Image.new("RGB", (160, 160), tuple(rng.randrange(40, 220) for _ in range(3)))
    draw = ImageDraw.Draw(image)
    for _ in range(6):
        x, y, r = rng.randrange(160), rng.randrange(160), rng.randrange(15, 50)
        draw.ellipse((x - r, y - r, x + r, y + r), fill=tuple(rng.randrange(256) for _ in range(3)))
    buffer = io.BytesIO()
    image.filter(ImageFilter.GaussianBlur(blur)).save(buffer, format="PNG")
    return buffer.getvalue()


def paint(study) -> None:
    """Give the study's flat test colours some shape, so the screenshots look like images."""
    for item in study.items.select_related("stimulus__target"):
        stimulus, seed = item.stimulus, item.stimulus.target_id
        stimulus.target_png.save("t.png", ContentFile(picture(seed, blur=0)), save=False)
        stimulus.iri_png.save("i.png", ContentFile(picture(seed, blur=4)), save=False)
        stimulus.seed_png.save("s.png", ContentFile(picture(seed + 1000, blur=8)), save=False)
        stimulus.save()


def shoot(page, name: str) -> Path:
    page.wait_for_timeout(200)  # images decoded and painted
    path = OUT / f"{name}.png"
    page.screenshot(path=str(path))
    return path


def screenshots_take(live_server_url: str) -> list[Path]:
    OUT.mkdir(parents=True, exist_ok=True)
    owner = factories.researcher("screenshots")
    taken = []
    with chromium() as browser:
        for paradigm, design in PARADIGMS.items():
            study = factories.study(owner, n_items=6, paradigm=paradigm, design=design)
            paint(study)
            for device, options in (("desktop", DESKTOP), ("phone", PHONE)):
                page = browser.new_page(**options)
                enter(page, f"{live_server_url}/s/{study.public_id}/?PROLIFIC_PID={paradigm}-{device}")
                wait_for_trial(page)
                if paradigm == "classification":
                    for step, selector in (("stimulus", ".iris-stage[data-show='stimulus']"),
                                           ("mask", ".iris-stage[data-show='mask']")):
                        page.wait_for_selector(selector)
                        taken.append(shoot(page, f"{paradigm}-{step}-{device}"))
                    page.wait_for_selector(".iris-category", state="visible")
                taken.append(shoot(page, f"{paradigm}-{device}"))
                page.close()
    return taken
