"""Every word the participant's runner (static/iris/) shows, in the language active when it is read.

The runner's scripts hold no participant-facing text of their own: the participant page hands them
these, translated for the study's language, in the runner's configuration (json_script; no script
is generated and nothing is inserted as markup by the server). Each is plain text: the runner escapes
it before jsPsych's plugins put it in their HTML, and names in braces ({width}) are filled in by the
runner. The test of the catalogue (tests/surveys/trials/test_languages.py) fails on any of these
without a translation.
"""

import functools

from django.utils import translation
from django.utils.translation import gettext_lazy

from surveys.trials.recruitment import REFUSALS

RUNNER_TEXT = {
    # jsPsych's progress bar
    "progress": gettext_lazy("Progress"),
    # the status line while answers wait to be sent, and while the session ends
    "busy": gettext_lazy("The server is busy. Your answers are kept and will be sent shortly…"),
    "offline": gettext_lazy("Connection lost. Your answers are kept and will be sent when it returns…"),
    "loading": gettext_lazy("Loading the next images…"),
    "saving": gettext_lazy("Saving your answers…"),
    # the browser check
    # Translators: the names in braces are numbers of pixels; keep them as they are.
    "window_small": gettext_lazy("Please make this window larger, at least {min_width} by {min_height} pixels "
                                 "(now {width} by {height})."),
    "window_cannot_grow": gettext_lazy("I cannot make the window any larger"),
    # full screen, the instructions, breaks, the end of the practice and its feedback
    "fullscreen": gettext_lazy("The study runs in full screen."),
    "fullscreen_button": gettext_lazy("Full screen"),
    "start": gettext_lazy("Start"),
    "previous": gettext_lazy("Previous"),
    "continue": gettext_lazy("Continue"),
    "break": gettext_lazy("Time for a short break."),
    "break_ready": gettext_lazy("Continue when you are ready."),
    "practice_over": gettext_lazy("The practice is over. The study begins now; there is no feedback from here on."),
    # (no "correct": the runner's page holds none of the words that could name the right option, which
    # tests/surveys/trials/test_no_loss_in_chromium.py looks for)
    "right": gettext_lazy("Right!"),
    "wrong": gettext_lazy("Not quite."),
    "thanks": gettext_lazy("Thank you."),
    # the viewing-distance calibration (jsPsych's virtual chinrest): a card, then the blind spot
    "card_needed": gettext_lazy("Next we measure your screen and how far you sit from it. You need a card the "
                                "size of a bank card (an ID or loyalty card will do)."),
    "card_yes": gettext_lazy("I have a card"),
    "card_no": gettext_lazy("I have no card"),
    "card_resize": gettext_lazy("Click and drag the lower right corner of the image until it is the same size "
                                "as a bank card held up to the screen."),
    "card_any": gettext_lazy("Any card of that size will do, such as an ID, a membership card or a driving "
                             "licence."),
    "card_ruler": gettext_lazy("Without a card, use a ruler: make the image 85.6 mm (3.37 inches) wide."),
    "card_done": gettext_lazy("Click here when the image is the right size"),
    "blindspot_intro": gettext_lazy("Now we quickly measure how far from the screen you are sitting."),
    "blindspot_hand": gettext_lazy("Put your left hand on the space bar."),
    "blindspot_eye": gettext_lazy("Cover your right eye with your right hand."),
    "blindspot_focus": gettext_lazy("With your left eye, look at the black square, and keep looking at it."),
    "blindspot_ball": gettext_lazy("The red ball moves from right to left and will disappear. Press the space bar "
                                   "as soon as it disappears."),
    "blindspot_ready": gettext_lazy("Press the space bar when you are ready to begin."),
    "blindspot_remaining": gettext_lazy("Measurements left:"),
    "blindspot_yes": gettext_lazy("Yes"),
    # the pause when the participant leaves the page or full screen
    "paused_left": gettext_lazy("The study is paused because you left its page."),
    "paused_fullscreen": gettext_lazy("The study is paused because it left full screen."),
    "resume_fullscreen": gettext_lazy("Return to full screen and continue"),
    # the trial screens and the questions
    # Translators: read aloud by screen readers for each image to choose from; {n} is its number.
    "option": gettext_lazy("Option {n}"),
    # Translators: after the prompt of a question that may be left unanswered.
    "optional": gettext_lazy("(optional)"),
}


def runner_text() -> dict:
    """The runner's words in the active language, and why a device may be turned away (its keys are
    the page's: iris-presentation.js, refusal)."""
    return _runner_text_in(translation.get_language())


@functools.cache  # the words per language: the catalogues are fixed for the life of a process
def _runner_text_in(language: str) -> dict:
    return {**{key: str(text) for key, text in RUNNER_TEXT.items()},
            "refusals": {key: str(text) for key, text in REFUSALS.items()}}
