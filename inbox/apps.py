from django.apps import AppConfig


class InboxConfig(AppConfig):
    name = "inbox"

    def ready(self):
        from inbox import live

        live.connect_signals()
