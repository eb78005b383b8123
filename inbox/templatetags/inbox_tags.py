"""Template helpers for showing customer-supplied content safely."""

from django import template
from django.utils import timezone

from inbox.mentions import is_http_url
from socialcrm.formatting import compact_number, person
from socialcrm.roles import is_supervisor

register = template.Library()


@register.filter
def safe_url(value: str) -> str:
    """The URL if it is http(s), else an empty string: no javascript:, data: or other schemes."""
    return value if is_http_url(value) else ""


register.filter(compact_number)
register.filter(person)


@register.filter
def get_item(mapping: dict, key):
    """{{ counts|get_item:status }}: a dict's value in a template (0 when missing)."""
    return mapping.get(key, 0) if isinstance(mapping, dict) else 0


@register.filter
def supervises(user) -> bool:
    """Whether the user is a manager or admin (sees every queue and the queue board)."""
    return is_supervisor(user)


@register.filter
def ago(moment) -> str:
    """'just now', '5 min ago', '3 h ago', '2 d ago', else the date: an age at a glance.

    Plain arithmetic: the list shows two ages on every row, and naturaltime's translation
    machinery cost a fifth of the list's rendering time.
    """
    if not moment:
        return ""
    seconds = (timezone.now() - moment).total_seconds()
    if seconds < 0:
        return "in the future" if seconds < -60 else "just now"
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{int(seconds // 60)} min ago"
    if seconds < 86400:
        return f"{int(seconds // 3600)} h ago"
    if seconds < 86400 * 30:
        return f"{int(seconds // 86400)} d ago"
    return f"{moment:%-d %b %Y}"


# A due time this close counts as "due soon" in a row (the pane uses the queue's own lead time).
DUE_SOON = 15 * 60


@register.filter
def to_breach(due) -> str:
    """Time left to a deadline, '12 min left', '2 h 5 min left', or how long ago it passed, '5 min over'.
    static/js/live.js counts the same text down in the page."""
    if not due:
        return ""
    seconds = (due - timezone.now()).total_seconds()
    left = abs(seconds)
    if left < 60:
        return "due now" if seconds >= 0 else "just over"
    if left < 3600:
        amount = f"{int(left // 60)} min"
    elif left < 86400:
        amount = f"{int(left // 3600)} h" + (f" {int(left % 3600 // 60)} min" if left % 3600 >= 60 else "")
    else:
        amount = f"{int(left // 86400)} d" + (f" {int(left % 86400 // 3600)} h" if left % 86400 >= 3600 else "")
    return f"{amount} left" if seconds >= 0 else f"{amount} over"


@register.filter
def due_state(due) -> str:
    """ "breached", "due_soon" or "running", for the colour of a time to breach."""
    seconds = (due - timezone.now()).total_seconds()
    return "breached" if seconds < 0 else "due_soon" if seconds <= DUE_SOON else "running"
