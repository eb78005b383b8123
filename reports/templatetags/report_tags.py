from django import template

from socialcrm import formatting

register = template.Library()


@register.filter
def duration(seconds) -> str:
    """Seconds as a wait people read at a glance: '12m', '3h 20m'."""
    return formatting.duration(seconds)


@register.filter
def share(value) -> str:
    return formatting.share(value)


@register.filter
def chart_json(chart: dict) -> dict:
    """What Chart.js needs of a chart (the page's table rows stay out of the JSON)."""
    return {key: value for key, value in chart.items() if key not in ("table", "exports")}


@register.filter
def median(figures, measure) -> float | None:
    return figures.median(int(measure))


@register.filter
def p90(figures, measure) -> float | None:
    return figures.p90(int(measure))


@register.filter
def met_share(figures, clock: str) -> float | None:
    return figures.met_share(clock)
