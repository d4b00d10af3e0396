from django.apps import AppConfig


class ConsoleConfig(AppConfig):
    """The researcher's interfaces over the domain apps: admin, researcher pages, the REST API, the demo.

    It holds no models; it sits on top of the app stack, so it may import any app and none imports it.
    """

    name = "surveys.console"
    verbose_name = "Researcher console"
