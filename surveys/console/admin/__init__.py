"""Every admin registration: the researcher's admin composes the domain apps, so it lives on top."""

from surveys.console.admin import (  # noqa: F401 - each module registers its admins
    generation,
    notifications,
    prolific,
    scoring,
    studies,
    tokens,
    trials,
)
