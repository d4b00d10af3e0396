"""Reads for studies."""

from django.db.models import Count, QuerySet

from surveys.generation.models import Stimulus
from surveys.generation.selectors import VERDICT_COUNTS, stimulus_verdict_counts
from surveys.studies.models import Study, StudyVersion


def study_iri_verdicts(*, study: Study) -> list[dict]:
    """Per condition (one job at one layer, or one condition of an imported set): its model and layer,
    how many of the job's IRIs there passed the job's criterion, failed it or were never judged, and how
    many of them the study surveys."""
    counts = stimulus_verdict_counts(stimuli=Stimulus.objects.filter(job__in=study.jobs.all()))
    none = dict.fromkeys(VERDICT_COUNTS, 0)
    rows = []
    for condition in study.conditions.select_related("job__model"):
        labels = condition.job.cell_labels(condition.layer)
        rows.append({"condition_id": condition.pk, "label": condition.label, "job_id": condition.job_id,
                     "model": labels.model, "layer": labels.layer,
                     **counts.get((condition.job_id, condition.layer), none), "surveyed": condition.items.count()})
    return rows


def study_versions(*, study: Study) -> QuerySet[StudyVersion]:
    """The study's versions, newest first, each with how many participants were shown it."""
    return (study.versions.select_related("created_by").annotate(participant_count=Count("participants"))
            .order_by("-number"))
