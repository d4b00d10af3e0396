from django.apps import AppConfig
from django.db.models.signals import post_delete


class GenerationConfig(AppConfig):
    name = "surveys.generation"
    label = "generation"
    verbose_name = "Generation: models, targets, jobs, IRIs"

    def ready(self) -> None:
        from surveys.generation.models import RegisteredModel, Stimulus, TargetImage  # lazy: needs loaded apps
        from surveys.generation.stored_files import files_delete_with_row  # lazy: needs loaded apps

        for model in (RegisteredModel, TargetImage, Stimulus):
            post_delete.connect(files_delete_with_row, sender=model, dispatch_uid=f"generation.files.{model.__name__}")
