"""Managers' reports: pages, the CSV export. Every figure comes from reports.figures."""

from datetime import timedelta
from urllib.parse import urlencode

from django.core.exceptions import PermissionDenied
from django.core.handlers.asgi import ASGIRequest
from django.http import StreamingHttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET

from reports import export, figures
from reports.figures import BUCKETS, CLOCKS, GROUPS, Period
from reports.models import Measure
from socialcrm.formatting import duration, share
from socialcrm.roles import is_supervisor
from triage.models import Queue

PAGES = {"overview": "Overview", **{group: f"By {label.lower()}" for group, label in GROUPS.items()}}


def _period(request) -> Period:
    if not is_supervisor(request.user):
        raise PermissionDenied("Reports are for managers and admins.")
    return Period.from_query(request.GET)


@require_GET
def overview(request):
    """Cards and a chart per measure over the period, each chart with its figures as a table."""
    period = _period(request)
    timeline = figures.over_time(period, group="queue")
    whole = figures.Figures()
    for _start, _end, _groups, bucket in timeline:
        whole.add(bucket)
    levels = figures.backlog(period)
    queues = {q.pk: q for q in Queue.objects.all()}
    return render(
        request,
        "reports/reports.html",
        {
            **_page_context(request, period, "overview"),
            "whole": whole,
            "open_breaches": figures.open_breaches(period),
            "backlog_end": levels[-1] if levels else 0,
            "charts": _tabled(_charts(period, timeline, levels, queues)),
            "measures": Measure,
            "clocks": CLOCKS,
        },
    )


@require_GET
def breakdown(request, group: str):
    """The period's figures by queue, agent, channel or type and sentiment: a table and a chart."""
    period = _period(request)
    groups = figures.breakdown(period, group)
    queue = period.queue
    rows = []
    for row in groups:
        link_queue = row.link.get("queue") or (queue.slug if queue else "")
        link = ""
        if link_queue:
            filters = {k: v for k, v in row.link.items() if k != "queue"}
            link = _inbox_link(link_queue, period.start, period.end, **filters)
        rows.append((row, link))
    measure = "replies_out" if group == "agent" else "opened"
    chart = {
        "id": f"by-{group}",
        "title": ("Replies sent" if group == "agent" else "Conversations opened") + f" by {GROUPS[group].lower()}",
        "kind": "bar",
        "horizontal": True,
        "unit": "count",
        "labels": [row.label for row in groups],
        "datasets": [
            {"label": "Replies" if group == "agent" else "Opened", "data": [row.figures[measure] for row in groups]}
        ],
        "links": [[link for _row, link in rows]] if any(link for _row, link in rows) else [],
    }
    return render(
        request,
        "reports/reports.html",
        {
            **_page_context(request, period, group),
            "group": group,
            "rows": rows,
            "charts": _tabled([chart]) if groups else [],
        },
    )


def _page_context(request, period: Period, page: str) -> dict:
    query = period.as_query()
    return {
        "period": period,
        "page": page,
        "pages": PAGES,
        "buckets": BUCKETS,
        "queues": Queue.objects.filter(is_active=True).order_by("name"),
        "query": urlencode(query),
        "export_query": urlencode({k: v for k, v in query.items() if k != "bucket"}),
        "time_zone": figures.brand_zone().key,
    }


def _inbox_link(queue_slug: str, start, end, *, missed: bool = False, **filters) -> str:
    """The inbox list of a queue's conversations opened in [start, end), or that missed a target then."""
    window = f"{start.isoformat()}/{end.isoformat()}"
    query = {"queue": queue_slug, "status": "all", "missed" if missed else "opened": window, **filters}
    return reverse("inbox:home") + "?" + urlencode(query)


def _label(period: Period, start) -> str:
    if period.bucket == "hour":
        return start.strftime("%a %d %b %H:00")
    if period.bucket == "week":
        return "Week of " + start.strftime("%d %b")
    return start.strftime("%a %d %b")


def _charts(period: Period, timeline, levels: list[int], queues: dict) -> list[dict]:
    """Each chart's labels, datasets and, where a bar stands for conversations, the inbox links behind it."""
    labels = [_label(period, start) for start, *_ in timeline]
    shown = sorted({key[0] for *_, groups, _ in timeline for key in groups}, key=lambda pk: _queue_name(queues, pk))

    def by_queue(chart_id: str, title: str, value, *, missed: bool = False) -> dict:
        """A bar chart stacked by queue; each segment links to its conversations in the inbox."""
        chart = {"id": chart_id, "title": title, "kind": "bar", "stacked": True, "unit": "count", "labels": labels}
        chart["datasets"], chart["links"] = [], []
        for pk in shown:
            queue = queues.get(pk)
            cells = [groups.get((pk,), figures.Figures()) for *_, groups, _ in timeline]
            chart["datasets"].append({"label": _queue_name(queues, pk), "data": [value(cell) for cell in cells]})
            chart["links"].append(
                [_inbox_link(queue.slug, start, end, missed=missed) if queue else "" for start, end, *_ in timeline]
            )
        return chart

    opened = by_queue("opened", "Conversations opened", lambda f: f["opened"])
    # Each bucket's conversations as CSV: the days it covers (an hour's day), in the period's queue.
    exports = []
    for start, end, *_ in timeline:
        last = (end - timedelta(microseconds=1)).date()
        query = {"from": start.date().isoformat(), "to": last.isoformat(), "group": "conversation"}
        exports.append(reverse("reports:export") + "?" + urlencode({**query, **_queue_query(period)}))
    opened["exports"] = exports
    missed = by_queue(
        "missed",
        "SLA targets missed (when the late answer or resolution came)",
        lambda f: sum(f[f"{clock}_missed"] for clock in CLOCKS),
        missed=True,
    )
    return [
        opened,
        {
            "id": "traffic",
            "title": "Messages in and replies out",
            "kind": "bar",
            "unit": "count",
            "labels": labels,
            "datasets": [
                {"label": "Messages in", "data": [f["messages_in"] for *_, f in timeline]},
                {"label": "Replies out", "data": [f["replies_out"] for *_, f in timeline]},
            ],
        },
        {
            "id": "response-times",
            "title": "Response times, median in business hours",
            "kind": "line",
            "unit": "seconds",
            "labels": labels,
            "datasets": [
                {"label": "First response", "data": [f.median(Measure.FIRST_RESPONSE_BUSINESS) for *_, f in timeline]},
                {"label": "Next response", "data": [f.median(Measure.NEXT_RESPONSE_BUSINESS) for *_, f in timeline]},
                {"label": "Resolution", "data": [f.median(Measure.RESOLUTION_BUSINESS) for *_, f in timeline]},
            ],
        },
        {
            "id": "sla-met",
            "title": "SLA targets met",
            "kind": "line",
            "unit": "share",
            "labels": labels,
            "datasets": [
                {"label": label, "data": [f.met_share(clock) for *_, f in timeline]} for clock, label in CLOCKS.items()
            ],
        },
        missed,
        {
            "id": "backlog",
            "title": "Backlog: open conversations at the end of each " + period.bucket,
            "kind": "line",
            "unit": "count",
            "labels": labels,
            "datasets": [{"label": "Open", "data": levels}],
        },
        {
            "id": "reopens",
            "title": "Reopen rate (reopens per resolution)",
            "kind": "line",
            "unit": "share",
            "labels": labels,
            "datasets": [{"label": "Reopen rate", "data": [f.reopen_rate for *_, f in timeline]}],
        },
    ]


def _tabled(charts: list[dict]) -> list[dict]:
    """Each chart with its figures as table rows (label, [(shown value, inbox link)]), for the page; the
    chart's own JSON (for Chart.js) is the same dict without them."""
    for chart in charts:
        links = chart.get("links") or [[] for _ in chart["datasets"]]
        exports = chart.get("exports") or [""] * len(chart["labels"])
        chart["table"] = [
            (
                label,
                [
                    (format_figure(dataset["data"][i], chart["unit"]), link[i] if i < len(link) else "")
                    for dataset, link in zip(chart["datasets"], links, strict=True)
                ],
                exports[i],
            )
            for i, label in enumerate(chart["labels"])
        ]
    return charts


def format_figure(value, unit: str) -> str:
    if unit == "seconds":
        return duration(value)
    if unit == "share":
        return share(value)
    return f"{value:,}" if value is not None else "—"


def _queue_query(period: Period) -> dict[str, str]:
    return {"queue": period.queue.slug} if period.queue else {}


def _queue_name(queues: dict, pk: int) -> str:
    return queues[pk].name if pk in queues else "No queue"


@require_GET
def export_csv(request):
    """`?from=&to=&group=conversation|day[&queue=]`: one row per conversation opened in the period, or
    per day; streamed, so a million rows take no more memory than ten."""
    if not is_supervisor(request.user):
        raise PermissionDenied("Reports are for managers and admins.")
    group = request.GET.get("group") or "day"
    if group not in export.GROUPS:
        raise figures.ReportRefused(f"Unknown group {group!r}; use one of: {', '.join(export.GROUPS)}")
    period = Period.from_query({**request.GET.dict(), "bucket": "day"})
    rows = export.GROUPS[group](period)
    lines = export.as_csv_async(rows) if isinstance(request, ASGIRequest) else export.as_csv(rows)
    response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
    name = f"socialcrm-{group}s-{period.first}-{period.last}{'-' + period.queue.slug if period.queue else ''}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
