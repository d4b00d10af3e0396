from django.apps import AppConfig


class ScoringConfig(AppConfig):
    name = "surveys.scoring"
    label = "scoring"
    verbose_name = "Scoring"
