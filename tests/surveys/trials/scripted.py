"""A scripted participant: drives the runner in headless Chromium the way a person would, screen by
screen, and remembers what it did (which trial, which answer, how long it waited) to check against
what the server stored."""

import re
from dataclasses import dataclass, field

from surveys.trials.models import Trial

TRIAL_SCREEN = ".iris-trial, .iris-message, #completion-code, #outcome, .iris-page h1"
# The choice plugin marks its screen once the frame showing the images has been painted; a key pressed
# earlier is not an answer to them and is ignored, so a script that answers at once waits for this.
SHOWN_CHOICE_SCREEN = ".iris-trial[data-shown]"
CONTINUE = "#jspsych-html-button-response-btngroup button"


@dataclass
class Action:
    trial_id: str
    value: int  # the option index, or the rating
    waited_ms: int
    by: str  # "click" or "key"


@dataclass
class Script:
    """decide(trial) -> the answer to give; wait_ms: how long to look before answering."""

    decide: object
    wait_ms: int = 250
    use_keys: bool = False
    before_answer: object = None  # called with the page while the trial is on screen
    actions: list[Action] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def watch(self, page) -> None:
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        page.on("console", lambda message: message.type == "error" and self.errors.append(message.text))

    def script_errors(self) -> list[str]:
        """The errors of the page's code, without the browser's own report of each request that failed
        (which the tests that break the network or the server provoke on purpose)."""
        return [error for error in self.errors if not error.startswith("Failed to load resource")]


def trial_id_of(src: str) -> str:
    return re.search(r"/img/([^/]+)/", src).group(1)


def enter(page, url: str, *, fullscreen: bool = False) -> None:
    """Start page -> consent -> (fullscreen) -> instructions."""
    page.goto(url)
    page.click("#begin")
    page.click("#agree")
    if fullscreen:
        page.click("#jspsych-fullscreen-btn", timeout=15_000)
    page.click("#jspsych-instructions-next", timeout=15_000)


def shown_trial_id(page, mode: str) -> str:
    selector = {"choice": ".iris-option img", "rating": ".iris-pair-image img", "timed": "img.iris-flash"}[mode]
    return trial_id_of(page.get_attribute(selector, "src"))


def answer_one(page, script: Script) -> None:
    """Answer the trial on screen now, as script.decide says, after looking for script.wait_ms."""
    mode = page.get_attribute(".iris-trial", "data-mode")
    trial_id = shown_trial_id(page, mode)
    trial = Trial.objects.get(public_id=trial_id)
    value = script.decide(trial)
    if mode == "timed":
        page.wait_for_selector(".iris-category", state="visible")
    else:
        page.wait_for_selector(SHOWN_CHOICE_SCREEN)
    if script.before_answer:
        script.before_answer(page)
    page.wait_for_timeout(script.wait_ms)
    keys = script.use_keys
    if keys:
        page.keyboard.press(key_for(mode, value, len(trial.layout.get("options") or [])))
    elif mode == "rating":
        page.click(f".iris-rating[data-rating='{value}']")
    elif mode == "timed":
        page.click(f".iris-category[data-choice='{value}']")
    else:
        page.click(f".iris-option[data-choice='{value}']")
    script.actions.append(Action(trial_id, value, script.wait_ms, "key" if keys else "click"))
    page.wait_for_function(f"() => !document.querySelector(\"[src*='{trial_id}']\")")


CATEGORY_KEYS = "1234567890abcdefghijklmnopqrstuvwxyz"  # the timed plugin's keys, in label order


def key_for(mode: str, value: int, options: int) -> str:
    if mode == "rating":
        return str(value)
    if mode == "timed":
        return CATEGORY_KEYS[value]
    return ("f", "j")[value] if options == 2 else str(value + 1)


# Which screen is up, read in one step: screens come and go by themselves (practice feedback ends
# on a timer, the next trial is fetched), so separate queries could each see a different screen.
SCREEN_KIND = """() => document.querySelector("#completion-code, #outcome, .iris-page h1") ? "end"
    : document.querySelector(".iris-message") ? "message"
    : document.querySelector(".iris-trial") ? "trial" : null"""


def run_through(page, script: Script, *, limit: int = 400, stop_after: int | None = None) -> None:
    """Answer screens until the session ends (or stop_after trials), pressing Continue on breaks."""
    answered = 0
    for _ in range(limit):
        page.wait_for_selector(TRIAL_SCREEN, state="visible", timeout=20_000)
        screen = page.evaluate(SCREEN_KIND)
        if screen == "end":
            return
        if screen == "message":
            button = page.query_selector(CONTINUE)
            if button:
                button.click()
            else:  # practice feedback: it goes by itself
                page.wait_for_timeout(150)
            continue
        if screen is None:  # between two screens
            continue
        if stop_after is not None and answered >= stop_after:
            return
        answer_one(page, script)  # a trial screen stays until it is answered
        answered += 1
    raise AssertionError("the study did not end")


def wait_for_trial(page, *, timeout_s: float = 20) -> None:
    """Press Continue on any break or notice until a trial screen is up."""
    deadline = page.evaluate("performance.now()") + timeout_s * 1000
    while page.evaluate("performance.now()") < deadline:
        page.wait_for_selector(".iris-trial, .iris-message", state="visible", timeout=timeout_s * 1000)
        if page.query_selector(".iris-trial"):
            return
        button = page.query_selector(CONTINUE)
        if button:
            button.click()
        else:
            page.wait_for_timeout(150)
    raise AssertionError("no trial came up")
