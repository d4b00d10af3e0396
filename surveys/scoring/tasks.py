"""Celery tasks of the scoring app: interfaces that take ids (docs/conventions.md §6)."""

from celery import shared_task

# A check reads a study's responses once and bootstraps its scores: seconds, even for a large study.
RECRUITMENT_CHECK_SOFT_TIME_LIMIT_S = 300
RECRUITMENT_CHECK_TIME_LIMIT_S = RECRUITMENT_CHECK_SOFT_TIME_LIMIT_S + 30


@shared_task(name="scoring.recruitment_check", acks_late=True, soft_time_limit=RECRUITMENT_CHECK_SOFT_TIME_LIMIT_S,
             time_limit=RECRUITMENT_CHECK_TIME_LIMIT_S)
def recruitment_check_run(study_id: int) -> None:
    """Judge one study's stopping rule (docs/method.md §3, "Stopping rule"); a deleted study is skipped."""
    from surveys.scoring import recruitment_services  # lazy: that module enqueues this task

    recruitment_services.recruitment_check_by_id(study_id=study_id)
