from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from socialcrm.accounts import mark_email_verified
from socialcrm.roles import STAFF_ROLES, Role
from triage.models import Queue


class Command(BaseCommand):
    help = "Create or update a user with a role and queue memberships (safe to run again)."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--password", help="Set this password (checked against the password rules).")
        parser.add_argument("--email", default=None)
        parser.add_argument("--name", default=None, help="Full name, e.g. 'Ada Lovelace'.")
        parser.add_argument("--role", choices=Role.ALL, default=Role.AGENT)
        parser.add_argument(
            "--queues",
            default=None,
            help="Comma-separated queue slugs the user works in; replaces their memberships. Omit to keep them.",
        )
        parser.add_argument("--skip-password-rules", action="store_true", help="For demo data only.")

    def handle(self, *args, username, password, email, name, role, queues, skip_password_rules, **options):
        queue_objects = self._queues(queues)
        User = get_user_model()
        existing = User.objects.filter(username=username).first()
        if password is None and existing is None:
            raise CommandError("A new user needs --password.")
        if password is not None and not skip_password_rules:
            try:
                validate_password(password, user=existing or User(username=username, email=email or ""))
            except ValidationError as error:
                raise CommandError("Password refused: " + " ".join(error.messages)) from None

        with transaction.atomic():
            user, created = User.objects.get_or_create(username=username)
            if email is not None:
                user.email = email
            if name is not None:
                first, _, last = name.strip().partition(" ")
                user.first_name, user.last_name = first, last
            if password is not None:
                user.set_password(password)
            user.is_active = True
            user.is_staff = role in STAFF_ROLES
            user.save()
            mark_email_verified(user)  # an admin vouches for it; allauth enrols a second factor only then
            user.groups.set(Group.objects.filter(name=role))
            if queue_objects is not None:
                user.queues.set(queue_objects)

        queue_names = ", ".join(user.queues.order_by("position").values_list("slug", flat=True)) or "none"
        verb = "Created" if created else "Updated"
        self.stdout.write(self.style.SUCCESS(f"{verb} {role} '{username}' (queues: {queue_names})"))

    def _queues(self, queues: str | None) -> list[Queue] | None:
        if queues is None:
            return None
        slugs = [slug.strip() for slug in queues.split(",") if slug.strip()]
        found = {queue.slug: queue for queue in Queue.objects.filter(slug__in=slugs)}
        unknown = [slug for slug in slugs if slug not in found]
        if unknown:
            known = ", ".join(Queue.objects.values_list("slug", flat=True))
            raise CommandError(f"Unknown queue(s): {', '.join(unknown)}. Known queues: {known}.")
        return [found[slug] for slug in slugs]
