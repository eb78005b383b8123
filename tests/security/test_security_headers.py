"""Injected script has nowhere to run and nothing to reach: every HTML page carries the strict headers."""

import pytest

from tests.factories import make_conversation

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("path", ["/accounts/login/", "/inbox/", "/customers/", "/admin/"])
def test_a_page_forbids_inline_script_framing_plugins_and_base_tags(client, manager, path):
    manager.is_staff = True
    manager.save(update_fields=["is_staff"])
    client.force_login(manager)

    response = client.get(path, follow=True)

    policy = dict(part.strip().split(" ", 1) for part in response.headers["Content-Security-Policy"].split(";"))
    assert policy["default-src"] == "'self'"
    assert policy["script-src"] == "'self'"  # no 'unsafe-inline', no 'unsafe-eval'
    assert policy["style-src"] == "'self'"
    assert policy["object-src"] == "'none'"
    assert policy["base-uri"] == "'none'"
    assert policy["frame-ancestors"] == "'none'"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert "camera=()" in response.headers["Permissions-Policy"]
    assert "microphone=()" in response.headers["Permissions-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_a_refused_htmx_request_is_plain_text_that_cannot_be_sniffed_as_html(agent_client):
    response = agent_client.get("/inbox/?type=<img src=x onerror=alert(1)>", headers={"HX-Request": "true"})

    assert response.status_code == 400
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_a_refused_page_shows_the_reason_escaped(agent_client):
    response = agent_client.get("/inbox/?type=<img src=x onerror=alert(1)>")

    assert response.status_code == 400
    assert response.headers["Content-Type"].startswith("text/html")
    assert "Unknown type &#x27;&lt;img src=x onerror=alert(1)&gt;&#x27;" in response.content.decode()


def test_a_signed_in_page_is_not_kept_in_the_browser_cache_for_the_next_person_at_the_desk(agent_client):
    """Agents share desks: after sign-out, Back or a proxy must not show customers' words again."""
    conversation = make_conversation()
    message = conversation.messages.get()
    answers = [
        agent_client.get("/inbox/"),
        agent_client.get(f"/inbox/conversations/{conversation.pk}/"),
        agent_client.get(f"/inbox/conversations/{conversation.pk}/", headers={"HX-Request": "true"}),
        agent_client.get(f"/customers/{conversation.customer_id}/"),
        agent_client.get(f"/api/v1/messages/{message.pk}"),
        agent_client.get("/inbox/?type=<b>"),  # a refusal too
    ]

    for response in answers:
        assert response.status_code in (200, 400), response.request["PATH_INFO"]
        assert "no-store" in response.headers["Cache-Control"], response.request["PATH_INFO"]
        assert "private" in response.headers["Cache-Control"]


def test_static_files_are_still_cached_for_a_long_time(client):
    from django.contrib.staticfiles.storage import staticfiles_storage

    response = client.get(staticfiles_storage.url("css/app.css"))

    assert response.status_code == 200
    assert "no-store" not in response.headers.get("Cache-Control", "")
