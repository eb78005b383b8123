"""Every page but login and health needs a login: walk the whole URL conf to prove it."""

import pytest
from django.urls import get_resolver

from tests.helpers import example_path, walk

# Views anyone may open: signing in, recovering a password, the health check, the icon, and the
# API's reference page (its schema is public too, below).
PUBLIC = {
    "healthz",
    "favicon",
    "api-docs",
    "account_login",
    "account_signup",  # answers "sign-up is closed"
    "account_reset_password",
    "account_reset_password_done",
    "account_reset_password_from_key",
    "account_reset_password_from_key_done",
    "account_confirm_email",
    "account_email_verification_sent",
    "account_inactive",
    "account_login_code_confirm",
    "account_confirm_login_code",
    "account_request_login_code",
    "account_reauthenticate",
    "mfa_authenticate",
    "mfa_login_webauthn",
    "admin:login",
}
# The JSON API and the networks' webhooks authenticate each request themselves (a channel token,
# the session, or the network's signature), and answer 401/403/404 rather than redirecting to a
# login page; their own tests prove who gets in.
API = {
    "api-ingest",
    "api-message",
    "api-openapi",
    "api-reports-summary",
    "api-triage-preview",
    "webhook-meta",
    "webhook-x",
}


ROUTES = sorted({(name or "", example_path(route)) for name, route in walk(get_resolver())})


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "path"), ROUTES, ids=[f"{n or '?'} {p}" for n, p in ROUTES])
def test_anonymous_users_are_sent_to_log_in(client, name, path):
    response = client.get(path)

    if name in PUBLIC:
        assert response.status_code < 500
        return
    if name in API:
        assert response.status_code in {200, 401, 403, 404, 405}
        assert name == "api-openapi" or response.status_code != 200
        return
    assert response.status_code in {301, 302}, f"{path} answered {response.status_code} to an anonymous user"
    target = response.headers["Location"]
    assert (
        target.startswith("/accounts/login/")
        or target.startswith("/admin/login/")
        or (response.status_code == 301 and target.endswith("/"))
    ), f"{path} redirected to {target}"


def test_the_walk_found_the_inbox_and_admin():
    names = {name for name, _ in ROUTES}
    assert {"inbox:home", "inbox:conversation", "healthz", "admin:index", "account_login"} <= names
