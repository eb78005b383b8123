"""`GET /api/v1/reports/summary`: the period's figures as JSON, for a token of the reports scope."""

from django.contrib.auth.decorators import login_not_required
from django.http import JsonResponse
from django.views.decorators.http import require_GET

from reports import figures
from reports.figures import CLOCKS, Period, ReportRefused
from reports.models import Measure
from socialcrm.api import bearer_token, error, unauthorised
from socialcrm.models import ApiToken
from socialcrm.roles import is_supervisor

TIMES = {
    "first_response": (Measure.FIRST_RESPONSE_BUSINESS, Measure.FIRST_RESPONSE_WALL),
    "next_response": (Measure.NEXT_RESPONSE_BUSINESS, Measure.NEXT_RESPONSE_WALL),
    "resolution": (Measure.RESOLUTION_BUSINESS, Measure.RESOLUTION_WALL),
}


@login_not_required
@require_GET
def summary(request):
    """The period's totals. A bearer token of the reports scope, or a signed-in manager or admin."""
    token = bearer_token(request)
    if token is not None:
        api_token = ApiToken.find(token, scope=ApiToken.Scope.REPORTS)
        if api_token is None:
            return unauthorised("That token is unknown, revoked, or not for the reports scope.")
        api_token.record_use()
    elif not request.user.is_authenticated:
        return unauthorised("Send 'Authorization: Bearer <reports token>'.")
    elif not is_supervisor(request.user):
        return error(403, "Reports are for managers and admins.")
    try:
        if "bucket" in request.GET:
            raise ReportRefused("The summary has no buckets; ask the CSV export for days")
        period = Period.from_query(request.GET)
    except ReportRefused as refused:
        return error(400, str(refused))
    return JsonResponse(summary_of(period))


def summary_of(period: Period) -> dict:
    """The summary's JSON: the same figures the overview's cards show."""
    whole = figures.total(period)
    levels = figures.backlog(period)
    answer = {
        "from": period.first.isoformat(),
        "to": period.last.isoformat(),
        "time_zone": figures.brand_zone().key,
        "queue": period.queue.slug if period.queue else None,
        "conversations": whole["opened"],
        "messages_in": whole["messages_in"],
        "replies_out": whole["replies_out"],
        "resolutions": whole["resolutions"],
        "reopens": whole["reopens"],
        "reopen_rate": whole.reopen_rate,
        "backlog_at_end": levels[-1] if levels else 0,
        "open_breaches_now": figures.open_breaches(period),
    }
    for clock in CLOCKS:
        business, wall = TIMES[clock]
        answer[clock] = {
            "median_business_seconds": _rounded(whole.median(business)),
            "p90_business_seconds": _rounded(whole.p90(business)),
            "median_wall_seconds": _rounded(whole.median(wall)),
            "p90_wall_seconds": _rounded(whole.p90(wall)),
            "targets_met": whole[f"{clock}_met"],
            "targets_missed": whole[f"{clock}_missed"],
            "met_share": whole.met_share(clock),
        }
    return answer


def _rounded(value: float | None) -> int | None:
    return None if value is None else round(value)


def _seconds(description: str) -> dict:
    return {"type": ["integer", "null"], "description": description}


def describe(openapi: dict) -> None:
    """Add the summary to the API's OpenAPI document (inbox.openapi holds it; reports sits above inbox)."""
    clock = {
        "type": "object",
        "properties": {
            "median_business_seconds": _seconds("Median wait counted in business hours; null when none."),
            "p90_business_seconds": _seconds("90th percentile, business hours."),
            "median_wall_seconds": _seconds("Median wait on the wall clock."),
            "p90_wall_seconds": _seconds("90th percentile, wall clock."),
            "targets_met": {"type": "integer", "minimum": 0},
            "targets_missed": {"type": "integer", "minimum": 0},
            "met_share": {"type": ["number", "null"], "minimum": 0, "maximum": 1},
        },
    }
    day = {"type": "string", "format": "date"}
    openapi["components"]["schemas"]["ReportSummary"] = {
        "type": "object",
        "properties": {
            "from": day,
            "to": day,
            "time_zone": {"type": "string", "description": "The brand's time zone the days are in."},
            "queue": {"type": ["string", "null"]},
            "conversations": {
                "type": "integer",
                "description": "Conversations opened in the period: as many as the per-conversation CSV's rows.",
            },
            "messages_in": {"type": "integer"},
            "replies_out": {"type": "integer"},
            "resolutions": {"type": "integer"},
            "reopens": {"type": "integer"},
            "reopen_rate": {"type": ["number", "null"]},
            "backlog_at_end": {"type": "integer", "description": "Conversations open at the period's end."},
            "open_breaches_now": {"type": "integer"},
            **{name: clock for name in CLOCKS},
        },
    }
    openapi["components"]["securitySchemes"]["reportsToken"] = {
        "type": "http",
        "scheme": "bearer",
        "description": "From `manage.py add_api_token --scope reports`.",
    }
    parameter = {"in": "query", "required": False}
    openapi["paths"]["/api/v1/reports/summary"] = {
        "get": {
            "summary": "The period's figures: volumes, response and resolution times, SLA targets met",
            "security": [{"reportsToken": []}, {"session": []}],
            "parameters": [
                {**parameter, "name": "from", "schema": day, "description": "First day; default 7 days ago."},
                {**parameter, "name": "to", "schema": day, "description": "Last day, included; default yesterday."},
                {**parameter, "name": "queue", "schema": {"type": "string"}, "description": "A queue's slug."},
            ],
            "responses": {
                "200": {
                    "description": "The figures.",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ReportSummary"}}},
                },
                "400": {"description": "A malformed date, 'from' after 'to', or an unknown queue."},
                "401": {"description": "No session and no valid reports token."},
                "403": {"description": "Signed in, but not a manager or admin."},
            },
        }
    }
