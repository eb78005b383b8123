import pytest
from django.urls import reverse

from tests.factories import PASSWORD, make_user


@pytest.mark.django_db
@pytest.mark.parametrize("login", ["sam", "sam@example.com"])
def test_an_agent_signs_in_with_username_or_email_and_lands_in_the_inbox(client, login):
    make_user("sam", role="agent", queues=("service",))

    response = client.post(reverse("account_login"), {"login": login, "password": PASSWORD}, follow=True)

    assert response.redirect_chain[-1][0] == reverse("inbox:home")
    assert "Service" in response.content.decode()


@pytest.mark.django_db
def test_a_wrong_password_is_refused_with_a_message(client):
    make_user("sam")

    response = client.post(reverse("account_login"), {"login": "sam", "password": "wrong"})

    assert response.status_code == 200
    assert "not correct" in response.content.decode()
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_nobody_can_sign_up(client):
    response = client.post(
        reverse("account_signup"),
        {"username": "intruder", "email": "i@example.com", "password1": PASSWORD, "password2": PASSWORD},
    )
    assert "closed" in response.content.decode().lower()
    from django.contrib.auth import get_user_model

    assert not get_user_model().objects.filter(username="intruder").exists()


@pytest.mark.django_db
def test_admin_sign_in_goes_through_allauth_so_two_factor_applies(client):
    response = client.get("/admin/login/?next=/admin/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith(reverse("account_login"))


@pytest.mark.django_db
def test_an_admin_can_enrol_an_authenticator_app(client):
    make_user("ada", role="admin", second_factor=False)
    client.post(reverse("account_login"), {"login": "ada", "password": PASSWORD})
    # allauth asks for the password again before a security change.
    client.post(reverse("account_reauthenticate"), {"password": PASSWORD})
    response = client.get(reverse("mfa_activate_totp"))
    assert response.status_code == 200
    assert response.context["totp_url"].startswith("otpauth://totp/")
    assert "issuer=socialcrm" in response.context["totp_url"]
    assert "data:image/svg+xml" in response.content.decode()  # the QR code to scan


@pytest.mark.django_db
def test_an_agent_cannot_open_django_admin(client):
    client.force_login(make_user("sam", role="agent"))
    response = client.get("/admin/")
    assert response.status_code == 302
