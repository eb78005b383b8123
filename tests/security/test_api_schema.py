"""The API campaign: schemathesis against the schema we serve, on Daphne, with the database and Redis.

Each operation gets a bounded number of generated requests (valid ones, and ones the schema says are
invalid), from a fixed seed so that a failure repeats. Every check schemathesis has is on: no 5xx, the
status codes, content types, headers and bodies the schema documents, invalid input refused, valid input
accepted, and credentials not ignored. A failure prints the request that reproduces it.
"""

from datetime import UTC, datetime

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.core.parameters import ParameterLocation

from inbox.mentions import _parse_time
from inbox.openapi import OPENAPI
from inbox.tokens import issue_token
from reports.figures import Period
from socialcrm.errors import Refused
from socialcrm.models import ApiToken
from tests.factories import make_channel

EXAMPLES_PER_OPERATION = 100

# The schema in the code; the first test proves it is the one the server serves.
schema = schemathesis.openapi.from_dict(OPENAPI)


@pytest.fixture
def credentials(asgi_server):
    """A bearer token per operation: the channel's for its mentions and messages, a triage token for previews."""
    channel_token = issue_token(make_channel("schema", network="webhook", kind="webhook"))
    _, triage_token = ApiToken.issue(name="schema campaign", scope=ApiToken.Scope.TRIAGE)
    return {
        "/api/v1/channels/{slug}/mentions": channel_token,
        "/api/v1/messages/{id}": channel_token,
        "/api/v1/triage/preview": triage_token,
        "/api/v1/reports/summary": ApiToken.issue(name="schema campaign", scope=ApiToken.Scope.REPORTS)[1],
    }


def test_the_served_schema_is_the_one_in_the_code(asgi_server):
    assert httpx.get(f"{asgi_server}/api/v1/openapi.json").json() == OPENAPI


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_every_operation_answers_as_its_schema_says(case, asgi_server, credentials):
    # What schemathesis made invalid on purpose is sent as it is; the rest is aimed at what exists.
    if case.path == "/api/v1/channels/{slug}/mentions":
        if not case.meta.is_negative_at(ParameterLocation.PATH):
            case.path_parameters["slug"] = "schema"
        if not case.meta.is_negative_at(ParameterLocation.BODY):
            _posted_in_the_past(case.body)
    if case.path == "/api/v1/reports/summary" and not case.meta.is_negative_at(ParameterLocation.QUERY):
        _a_period_we_answer(case.query)
    headers = {}
    if not case.meta.is_negative_at(ParameterLocation.HEADER):
        headers["Authorization"] = f"Bearer {credentials[case.path]}"
    case.call_and_validate(base_url=asgi_server, headers=headers)


@pytest.mark.parametrize(
    ("method", "path"),
    [(method.upper(), path) for path, operations in OPENAPI["paths"].items() for method in operations],
)
def test_without_credentials_every_operation_is_401_not_404(client, db, method, path):
    make_channel("schema", network="webhook", kind="webhook")
    url = path.format(slug="schema", id=1)

    response = client.generic(method, url, data=b"{}", content_type="application/json")

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert response.json()["error"]


def test_an_api_route_that_does_not_exist_answers_json_not_a_page(client, db):
    for url in ("/api/v1/messages/null", "/api/v1/channels/caf%C3%A9/mentions", "/api/v2/anything"):
        response = client.get(url)
        assert response.status_code == 404
        assert response.headers["Content-Type"] == "application/json"
        assert "openapi.json" in response.json()["error"]

    response = client.delete("/api/v1/triage/preview")
    assert response.status_code == 405
    assert response.headers["Allow"] == "POST"
    assert response.json()["error"]


def _a_period_we_answer(query) -> None:
    """JSON Schema cannot say "from before to, within three years, of a queue that exists" (the
    schema's descriptions and the 400 do): a valid query that asks otherwise asks for the default."""
    if not isinstance(query, dict):
        return
    try:
        Period.from_query(query)
    except Refused:
        query.pop("from", None)
        query.pop("to", None)
        query.pop("queue", None)


def _posted_in_the_past(body) -> None:
    """JSON Schema cannot say "not in the future, not before 1990" (the schema's description does):
    a valid mention generated with such a time is sent without one, which means now."""
    mentions = body.get("mentions", []) if isinstance(body, dict) else []
    for mention in [body, *mentions] if isinstance(body, dict) else []:
        if not isinstance(mention, dict) or not isinstance(mention.get("posted_at"), str):
            continue
        errors = {}
        _parse_time(mention["posted_at"], "posted_at", errors, now=datetime.now(UTC))
        if errors:
            del mention["posted_at"]
