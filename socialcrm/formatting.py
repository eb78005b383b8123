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
