"""A row's files go with the row: when a model, a target image or a stimulus is deleted (by admin,
the API, or a cascade from its target set or job), its files are deleted from storage once the
deletion commits. A rolled-back deletion keeps them, and nothing in storage outlives its row."""

from django.core.files.storage import default_storage
from django.db import models, transaction


def stored_file_names(instance: models.Model) -> list[str]:
    """The storage names of the instance's non-empty file fields."""
    return [getattr(instance, field.attname).name for field in instance._meta.concrete_fields
            if isinstance(field, models.FileField) and getattr(instance, field.attname)]


def files_delete_with_row(sender, instance: models.Model, **kwargs) -> None:
    names = stored_file_names(instance)
    if names:
        transaction.on_commit(lambda: [default_storage.delete(name) for name in names])
