"""Writes docs/screenshots/*.png (opt in: -m slow); they are what the README shows."""

import pytest

from tests.surveys.screenshots import OUT, PARADIGMS, screenshots_take

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser, pytest.mark.slow]


def test_it_photographs_each_paradigms_trial_screen_on_desktop_and_phone(live_server):
    taken = screenshots_take(live_server.url)

    assert len(taken) == 2 * (len(PARADIGMS) + 2)  # classification: also its image and its mask
    assert all(path.stat().st_size > 5_000 for path in taken)
    assert {path.name for path in taken} <= {p.name for p in OUT.glob('*.png')}
