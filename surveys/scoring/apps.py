from django.apps import AppConfig

from surveys.trials.signals import participant_completed


class ScoringConfig(AppConfig):
    name = "surveys.scoring"
    label = "scoring"
    verbose_name = "Scoring"

    def ready(self) -> None:
        from surveys.scoring.recruitment_services import participant_completed_receive  # lazy: needs loaded models

        participant_completed.connect(participant_completed_receive, dispatch_uid="scoring.recruitment_check")
