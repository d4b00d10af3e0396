from django.apps import AppConfig


class GenerationConfig(AppConfig):
    name = "surveys.generation"
    label = "generation"
    verbose_name = "Generation: models, targets, jobs, IRIs"
