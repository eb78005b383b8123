"""Accounts: created by admins, never by sign-up; second factors for managers and admins; signing out everywhere."""

from allauth.account.adapter import DefaultAccountAdapter
from allauth.account.forms import LoginForm as AllauthLoginForm
from allauth.account.models import EmailAddress
from allauth.mfa.utils import is_mfa_enabled
from django.contrib import messages
from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.models import Session
from django.db import transaction
from django.dispatch import Signal
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.deprecation import MiddlewareMixin
from django_htmx.http import HttpResponseClientRedirect

from socialcrm.api import error
from socialcrm.errors import is_machine_door
from socialcrm.roles import is_supervisor


class AccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request) -> bool:
        return False


class LoginForm(AllauthLoginForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["login"].label = "Username or e-mail"
        self.fields["login"].widget.attrs.update({"autocomplete": "username", "autofocus": True})
        self.fields["remember"].label = "Keep me signed in on this computer"


# --- Second factors: managers and admins have one before they can use the app ---

# Pages a person without a second factor may still open: their account's own (sign-in and out,
# enrolling a second factor, password), the health check and static files.
_OPEN_WITHOUT_SECOND_FACTOR = ("/accounts/", "/healthz", "/static/")


def needs_second_factor(user) -> bool:
    """Whether this signed-in person must enrol a second factor first: managers, admins and staff do."""
    if not getattr(user, "is_authenticated", False):
        return False
    if not (is_supervisor(user) or user.is_staff or user.is_superuser):
        return False
    return not is_mfa_enabled(user)


class SecondFactorRequiredMiddleware(MiddlewareMixin):
    """Sends a manager or admin without a second factor to enrol one, from every page, partial and API call.

    The live socket applies the same rule (inbox.live.groups_for_user hears nothing for them).
    """

    def process_view(self, request, view_func, view_args, view_kwargs):
        if request.path.startswith(_OPEN_WITHOUT_SECOND_FACTOR) or not needs_second_factor(request.user):
            return None
        enrol = reverse("mfa_activate_totp")
        if is_machine_door(request):
            return error(403, "Set up two-factor authentication first, at " + enrol)
        if getattr(request, "htmx", False):
            return HttpResponseClientRedirect(enrol)
        messages.info(
            request,
            "Managers and admins sign in with a second factor. Set up an authenticator app to go on.",
        )
        return redirect(enrol)


def mark_email_verified(user) -> None:
    """The user's address, recorded as verified and primary (admins vouch for the addresses they give).

    allauth refuses to enrol a second factor while any of the user's addresses is unverified.
    """
    if not user.email:
        return
    EmailAddress.objects.filter(user=user).exclude(email__iexact=user.email).update(primary=False)
    address = EmailAddress.objects.filter(user=user, email__iexact=user.email).first()
    if address is None:
        EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
    else:
        EmailAddress.objects.filter(pk=address.pk).update(verified=True, primary=True)


# --- Sign out everywhere ---

# Sent with the keys of the sessions that were ended, so the live inbox closes their sockets at once.
sessions_ended = Signal()


def sign_out_everywhere(user) -> int:
    """End every session of this person, on every device; returns how many there were.

    Reads the database's sessions (the session engine here): a few hundred people's sessions are
    decoded in milliseconds. Their open live sockets are closed after commit.
    """
    now = timezone.now()
    keys = [
        session.session_key
        for session in Session.objects.filter(expire_date__gt=now).iterator()
        if session.get_decoded().get(SESSION_KEY) == str(user.pk)
    ]
    Session.objects.filter(session_key__in=keys).delete()
    transaction.on_commit(lambda: sessions_ended.send(sender=type(user), user=user, session_keys=keys), robust=True)
    return len(keys)
