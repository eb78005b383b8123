"""How people and numbers are written, on pages and in messages alike (the templates' filters too)."""


def compact_number(value: int) -> str:
    """1234 -> '1.2k', 2500000 -> '2.5M': follower counts at a glance."""
    try:
        number = int(value)
    except (TypeError, ValueError):
        return ""
    for limit, suffix in ((1_000_000_000, "B"), (1_000_000, "M"), (1_000, "k")):
        if number >= limit:
            return f"{number / limit:.1f}".rstrip("0").rstrip(".") + suffix
    return str(number)


def person(user, fallback: str = "") -> str:
    """A colleague's full name, else their username; the fallback when there is nobody."""
    if user is None:
        return fallback
    return user.get_full_name() or user.username


def duration(seconds: float | None) -> str:
    """A wait as people say it: '45s', '12m', '3h 20m', '2d 4h'; '—' when there is none."""
    if seconds is None:
        return "—"
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds}s"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes}m"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h {minutes}m" if minutes else f"{hours}h"
    days, hours = divmod(hours, 24)
    return f"{days}d {hours}h" if hours else f"{days}d"


def share(value: float | None) -> str:
    """0.934 -> '93%'; '—' when there is nothing to divide."""
    return "—" if value is None else f"{value:.0%}"
