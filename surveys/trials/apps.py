from django.apps import AppConfig


class TrialsConfig(AppConfig):
    name = "surveys.trials"
    label = "trials"
    verbose_name = "Trials: participants and responses"
