"""A stolen or forgotten session can be ended everywhere, and managers and admins cannot work without
a second factor, at any door."""

from io import StringIO

import pytest
from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from django.contrib.sessions.models import Session
from django.core.management import call_command
from django.test import Client

from socialcrm.accounts import needs_second_factor
from tests.factories import PASSWORD, make_conversation, make_user, totp_code

pytestmark = pytest.mark.django_db


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_sign_out_everywhere_ends_the_sessions_on_every_device(agent_in_service_queue):
    laptop, phone = signed_in(agent_in_service_queue), signed_in(agent_in_service_queue)
    assert phone.get("/inbox/").status_code == 200

    response = laptop.post("/accounts/sign-out-everywhere", follow=True)

    assert "Signed out everywhere: 2 sessions ended." in response.content.decode()
    assert phone.get("/inbox/").status_code == 302  # the phone is signed out too
    assert laptop.get("/inbox/").status_code == 302
    assert not Session.objects.exists()


def test_sign_out_everywhere_leaves_colleagues_signed_in(agent_in_service_queue):
    colleague = signed_in(make_user("tom", role="agent", queues=("service",)))

    signed_in(agent_in_service_queue).post("/accounts/sign-out-everywhere")

    assert colleague.get("/inbox/").status_code == 200


def test_an_admin_signs_a_person_out_everywhere_from_admin(agent_in_service_queue):
    victim = signed_in(agent_in_service_queue)
    boss = make_user("ada", role="admin")
    boss.is_superuser = True
    boss.save()

    response = signed_in(boss).post(
        "/admin/auth/user/",
        {"action": "sign_out_everywhere", "_selected_action": [agent_in_service_queue.pk]},
        follow=True,
    )

    assert "Ended 1 session of 1 people." in response.content.decode()
    assert victim.get("/inbox/").status_code == 302


@pytest.mark.parametrize("role", ["manager", "admin"])
@pytest.mark.parametrize("path", ["/inbox/", "/inbox/board", "/customers/", "/admin/"])
def test_a_supervisor_without_a_second_factor_is_sent_to_enrol_first(role, path):
    person = make_user("newboss", role=role, second_factor=False)

    response = signed_in(person).get(path)

    assert response.status_code == 302 and response.headers["Location"] == "/accounts/2fa/totp/activate/"


def test_the_htmx_partials_and_the_api_refuse_a_supervisor_without_a_second_factor():
    person = make_user("newboss", role="manager", second_factor=False)
    conversation = make_conversation("pr", text="Press embargo until Monday")
    client = signed_in(person)

    pane = client.get(f"/inbox/conversations/{conversation.pk}/", headers={"HX-Request": "true"})
    api = client.get(f"/api/v1/messages/{conversation.messages.get().pk}")

    assert pane.headers["HX-Redirect"] == "/accounts/2fa/totp/activate/"
    assert "Press embargo" not in pane.content.decode()
    assert api.status_code == 403 and "Press embargo" not in api.content.decode()


def test_the_live_socket_hears_nothing_for_a_supervisor_without_a_second_factor():
    from inbox.live import groups_for_user

    person = make_user("newboss", role="manager", second_factor=False)
    assert groups_for_user(person) == set()
    Authenticator.objects.create(user=person, type=Authenticator.Type.TOTP, data={})
    assert "live.all" in groups_for_user(person)


def test_agents_need_no_second_factor(agent_in_service_queue):
    assert not needs_second_factor(agent_in_service_queue)
    assert signed_in(agent_in_service_queue).get("/inbox/").status_code == 200


def test_a_supervisor_with_a_second_factor_works_as_before(manager):
    assert signed_in(manager).get("/inbox/board").status_code == 200


def test_add_agent_marks_the_address_verified_so_enrolment_is_allowed():
    call_command(
        "add_agent", "nina", "--password", PASSWORD, "--role", "admin", "--email", "nina@example.com", stdout=StringIO()
    )

    address = EmailAddress.objects.get(user__username="nina")
    assert address.verified and address.primary and address.email == "nina@example.com"


def test_a_new_admin_enrols_an_authenticator_and_then_gets_in():
    call_command(
        "add_agent", "nina", "--password", PASSWORD, "--role", "admin", "--email", "nina@example.com", stdout=StringIO()
    )
    client = Client()
    response = client.post("/accounts/login/", {"login": "nina", "password": PASSWORD}, follow=True)
    assert response.redirect_chain[-2][0] == "/accounts/2fa/totp/activate/"  # sent to enrol, and allauth
    response = client.post(response.redirect_chain[-1][0], {"password": PASSWORD}, follow=True)  # asks again
    assert response.redirect_chain[-1][0] == "/accounts/2fa/totp/activate/"

    form = response.context["form"]
    enrolled = client.post("/accounts/2fa/totp/activate/", {"code": totp_code(form.secret)}, follow=True)

    assert enrolled.status_code == 200
    assert Authenticator.objects.filter(user__username="nina", type=Authenticator.Type.TOTP).exists()
    assert client.get("/admin/").status_code == 200
