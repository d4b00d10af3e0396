"""Every admin registration: the researcher's admin composes the domain apps, so it lives on top."""

from surveys.console.admin import generation, prolific, scoring, studies, tokens, trials  # noqa: F401 - each module registers its admins
