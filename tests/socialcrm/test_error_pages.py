"""Refusals that say what they refuse, where the person is; and the small files every browser asks for."""

import logging

import pytest
from allauth.mfa.totp.internal.auth import TOTP

from tests.factories import TOTP_SECRET, make_user

pytestmark = pytest.mark.django_db


def test_an_agent_on_the_board_is_told_it_is_for_managers_and_no_traceback_is_logged(agent_client, caplog):
    with caplog.at_level(logging.WARNING, logger="django.request"):
        page = agent_client.get("/inbox/board")
        partial = agent_client.get("/inbox/board", headers={"HX-Request": "true"})

    assert page.status_code == 403 and "The queue board is for managers and admins" in page.text
    assert "Back to your inbox" in page.text
    assert partial.headers["Content-Type"].startswith("text/plain") and partial.text.startswith("The queue board")
    forbidden = [record for record in caplog.records if getattr(record, "status_code", None) == 403]
    assert len(forbidden) == 2 and all(record.exc_info is None for record in forbidden)


def test_admin_says_which_door_is_shut_in_admin_terms(client):
    clerk = make_user("clerk", role="agent")
    clerk.is_staff = True
    clerk.save()
    TOTP.activate(clerk, TOTP_SECRET)  # staff enrol a second factor before anything else
    client.force_login(clerk)

    page = client.get("/admin/auth/group/")

    assert page.status_code == 403
    assert "Your account may open admin, but not this page of it" in page.text and "Back to admin" in page.text


def test_the_icon_is_served_to_admin_and_to_browsers_that_ask_for_favicon_ico(admin_client):
    assert 'rel="icon" href="/static/favicon.svg"' in admin_client.get("/admin/").text
    response = admin_client.get("/favicon.ico")
    assert response.status_code == 301 and response.url == "/static/favicon.svg"


def test_the_api_reference_page_reads_the_openapi_document(client):
    page = client.get("/api/v1/docs")

    assert page.status_code == 200
    assert 'data-schema="/api/v1/openapi.json"' in page.text
    assert "vendor/swagger-ui/swagger-ui-bundle.js" in page.text
