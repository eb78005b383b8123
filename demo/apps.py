from django.apps import AppConfig


class DemoConfig(AppConfig):
    """The demo's data (load_demo) and its stream of synthetic mentions (simulate_stream).

    It fills every other app, so it stands on top of them all and no app imports it.
    """

    name = "demo"
