from django.apps import AppConfig


class StudiesConfig(AppConfig):
    name = "surveys.studies"
    label = "studies"
    verbose_name = "Studies: conditions, items, links"
