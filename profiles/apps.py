from django.apps import AppConfig


class ProfilesConfig(AppConfig):
    """The customer as agents work it: the page and its timeline, notes, tags, merge, the CRM import.

    It reads and moves conversations, so it stands above inbox (customers/ holds the records).
    """

    name = "profiles"
