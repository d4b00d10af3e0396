"""What each paradigm has, in one table (docs/method.md §2 and §3).

Everything that differs between paradigms is read from here: the design options a paradigm adds
and their defaults, how many image options a trial offers, which screen the runner shows, the
question on it, what a response is scored by, what the score is called and its chance level.
"""

from dataclasses import dataclass, field

from django.db import models
from django.utils.translation import gettext_noop

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
    title: str  # its short name, as in "Create a 2AFC study"
    presentation: str
    prompt: str  # the question on every trial screen
    measure: str  # what the score of a condition is called, for people
    # The same for programs, as the API and the report's JSON name it. The responses CSV has no column
    # of this name: a condition's score is the mean of its scored rows' `correct`, or `rating` if rated.
    score_name: str
    # Image options per trial; None: the design's k. Classification shows names, not images.
    image_options: int | None
    # Scored by the 1-7 rating (similarity) rather than by right or wrong.
    rated: bool = False
    # A response records whether the chosen option was the IRI's own target (Response.chose_target).
    target_chosen: bool = False
    # The design options this paradigm adds to the common ones, with their defaults.
    options: dict = field(default_factory=dict)
    # What a new study of this paradigm tells its participants (the researcher may edit each; plain,
    # Markdown-compatible text): the instructions before the first trial, and the task in the consent.
    # These, the prompt and the scale labels are English, marked for translation: study_build writes
    # them in the study's language.
    instructions: str = ""
    task: str = ""
    # The rating scale's two ends, (1, 7); only a rated paradigm shows them.
    scale_labels: tuple[str, str] = ("", "")


PARADIGMS: dict[str, ParadigmTraits] = {
    Paradigm.TWO_AFC: ParadigmTraits(
        title="2AFC", presentation=Presentation.CHOICE, image_options=2, target_chosen=True,
        prompt=gettext_noop("Which of the two images below is more similar to the image on top?"),
        measure="share choosing the target", score_name="target_share", options={"foils": "seed"},
        task=gettext_noop("look at an image and choose which of two other images is more like it"),
        instructions=gettext_noop(
            "On each screen you will see one image on top and two images below it.\n\n"
            "Choose the image below that looks **more similar** to the image on top: click or tap it, "
            "or press **F** for the left one and **J** for the right one.\n\n"
            "There are no right or wrong answers; go with your first impression.")),
    Paradigm.SIMILARITY: ParadigmTraits(
        title="similarity", presentation=Presentation.RATING, image_options=2, rated=True,
        prompt=gettext_noop("How similar are these two images?"),
        measure="mean rating (1-7)", score_name="mean_rating",
        task=gettext_noop("rate how similar two images look"),
        instructions=gettext_noop(
            "On each screen you will see two images side by side.\n\n"
            "Rate how similar they look, from **1** (very different) to **7** (identical): click or tap a "
            "number, or press the key **1** to **7**.\n\n"
            "There are no right or wrong answers; go with your first impression."),
        scale_labels=(gettext_noop("very different"), gettext_noop("identical"))),
    Paradigm.MATCHING: ParadigmTraits(
        title="matching", presentation=Presentation.CHOICE, image_options=None, target_chosen=True,
        prompt=gettext_noop("Which of the images below does the image on top resemble most?"),
        measure="accuracy (share correct)", score_name="accuracy", options={"k": 3},
        task=gettext_noop("look at an image and choose which of several other images it resembles most"),
        instructions=gettext_noop(
            "On each screen you will see one image on top and several images below it.\n\n"
            "Choose the image below that the image on top **resembles most**: click or tap it, or press "
            "its number key (**1** for the leftmost).\n\n"
            "Go with your first impression.")),
    Paradigm.CLASSIFICATION: ParadigmTraits(
        title="classification", presentation=Presentation.TIMED, image_options=0,
        prompt=gettext_noop("What did you see?"), measure="accuracy (share correct)", score_name="accuracy",
        task=gettext_noop("see an image very briefly and say what it showed"),
        instructions=gettext_noop(
            "On each screen a cross appears, then an image for a fraction of a second, then a pattern "
            "that covers it.\n\n"
            "Look at the cross. When the image has gone, choose the name that best says **what the image "
            "showed**: click or tap it, or press the key shown on it. Take as long as you need to answer.\n\n"
            "If you are not sure, make your best guess."),
        # k: categories per trial, None for all of them; Feather et al.'s 300/300/300 ms.
        options={"k": None, "fixation_ms": 300, "stimulus_ms": 300, "mask_ms": 300}),
}
