"""What each paradigm has, in one table (docs/method.md §2 and §3).

Everything that differs between paradigms is read from here: the design options a paradigm adds
and their defaults, how many image options a trial offers, which screen the runner shows, the
question on it, what a response is scored by, what the score is called and its chance level.
"""

from dataclasses import dataclass, field

from django.db import models

# The similarity scale (docs/method.md §2); its midpoint is the rating paradigm's "chance".
RATING_MIN, RATING_MAX = 1, 7
RATING_MIDPOINT = (RATING_MIN + RATING_MAX) / 2


class Paradigm(models.TextChoices):
    TWO_AFC = "2afc", "Two-alternative forced choice (which option is more like the IRI)"
    SIMILARITY = "similarity", "Similarity rating 1-7 (IRI and its target)"
    MATCHING = "matching", "Matching (assign the IRI to one of K targets)"
    CLASSIFICATION = "classification", "K-way classification with timed presentation"


class Presentation(models.TextChoices):
    """Which screen the participant's runner shows for a trial."""

    CHOICE = "choice"  # a query image above image options
    RATING = "rating"  # two images side by side and a 1-7 scale
    TIMED = "timed"  # fixation, image and mask, then a grid of category names


@dataclass(frozen=True)
class ParadigmTraits:
    presentation: str
    prompt: str  # the question on every trial screen
    measure: str  # what the score of a condition is called
    # Image options per trial; None: the design's k. Classification shows names, not images.
    image_options: int | None
    # Scored by the 1-7 rating (similarity) rather than by right or wrong.
    rated: bool = False
    # A response records whether the chosen option was the IRI's own target (Response.chose_target).
    target_chosen: bool = False
    # The design options this paradigm adds to the common ones, with their defaults.
    options: dict = field(default_factory=dict)


PARADIGMS: dict[str, ParadigmTraits] = {
    Paradigm.TWO_AFC: ParadigmTraits(
        presentation=Presentation.CHOICE, image_options=2, target_chosen=True,
        prompt="Which of the two images below is more similar to the image on top?",
        measure="share choosing the target", options={"foils": "seed"}),
    Paradigm.SIMILARITY: ParadigmTraits(
        presentation=Presentation.RATING, image_options=2, rated=True,
        prompt="How similar are these two images?",
        measure="mean similarity rating (1-7)"),
    Paradigm.MATCHING: ParadigmTraits(
        presentation=Presentation.CHOICE, image_options=None, target_chosen=True,
        prompt="Which of the images below does the image on top resemble most?",
        measure="share correct", options={"k": 3}),
    Paradigm.CLASSIFICATION: ParadigmTraits(
        presentation=Presentation.TIMED, image_options=0,
        prompt="What did you see?", measure="share correct",
        # k: categories per trial, None for all of them; Feather et al.'s 300/300/300 ms.
        options={"k": None, "fixation_ms": 300, "stimulus_ms": 300, "mask_ms": 300}),
}
