"""Links a researcher follows from admin: to a study's participant page and to its results."""

from django.conf import settings
from django.urls import reverse
from django.utils.html import format_html


def participant_link(study) -> str:
    """The URL to hand to participants (or to a recruitment platform)."""
    return settings.SITE_URL + reverse("trials:start", args=[study.public_id])


def results_link(study) -> str:
    """An HTML link to the study's results page, or "-" for a study not saved yet."""
    if study is None or study.pk is None:
        return "-"
    return format_html('<a href="{}">Results, plots and exports</a>', reverse("scoring-study-results", args=[study.pk]))
