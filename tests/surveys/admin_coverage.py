"""Which admin pages and actions the tests submit: each such test is marked ``@submits(model, *pages)``.

tests/surveys/console/test_admin_pages.py compares the marks with what admin offers a researcher, so
a new admin form or action comes with its test. Tests of one feature may live beside that feature
(the Prolific pages are submitted in tests/surveys/scoring/test_prolific.py); ``marked_submissions``
finds them all by importing every test module that uses the mark, as pytest itself would.
"""

import importlib
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
SUBMITTED: dict[tuple[str, str], str] = {}  # (model label, "add" | "change" | action name) -> test


def submits(model: str, *pages: str):
    def register(test):
        for page in pages:
            SUBMITTED[(model, page)] = f"{test.__module__}.{test.__name__}"
        return test

    return register


def marked_submissions() -> dict[tuple[str, str], str]:
    for path in sorted(TESTS.rglob("test_*.py")):
        if "@submits(" in path.read_text():
            importlib.import_module(".".join(path.relative_to(TESTS.parent).with_suffix("").parts))
    return SUBMITTED
