"""Reading untrusted JSON payloads: parsing it safely, and naming each field that is wrong.

Shared by every door that takes JSON from outside (the ingest API, the webhooks, the triage preview,
the live socket), so each refuses the same things with the same words.
"""

import json
import math
import re
import sys
from typing import Any

MAX_TEXT_LENGTH = 10_000  # a mention's text, on every door that takes one
MAX_FOLLOWERS = 10**12


class FieldErrors(Exception):
    """A payload is invalid; `errors` maps each field (dotted for nested ones) to what is wrong."""

    def __init__(self, errors: dict[str, str]):
        super().__init__(errors)
        self.errors = errors


def parse_bool(value: Any, name: str, errors: dict[str, str], *, default: bool | None) -> bool | None:
    """true or false; absent or null is the default."""
    if value is None:
        return default
    if not isinstance(value, bool):
        errors[name] = f"Must be true or false, not {json_type(value)}."
        return default
    return value


def parse_followers(value: Any, name: str, errors: dict[str, str]) -> int | None:
    """A whole number from 0 (1200.0 is one, true is not); absent or null is None."""
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_FOLLOWERS:
        errors[name] = "Must be a whole number from 0 up."
        return None
    return value


def parse_choice(value: Any, name: str, errors: dict[str, str], *, choices: list[str]) -> str:
    """One of `choices`; absent, null or empty is ""."""
    if value is None or value == "":
        return ""
    if not isinstance(value, str) or value not in choices:
        errors[name] = f"Must be one of {', '.join(choices)}."
        return ""
    return value


def json_type(value: Any) -> str:
    """How JSON would name the value's type, for error messages."""
    return {
        dict: "an object",
        list: "an array",
        str: "a string",
        bool: "a boolean",
        int: "a number",
        float: "a number",
        type(None): "null",
    }.get(type(value), type(value).__name__)


# In JSON text, a NUL or a surrogate can only arrive escaped: raw control characters are invalid
# JSON and raw surrogates invalid UTF-8.
_UNSTORABLE_ESCAPE = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])")


def json_may_hold_unstorable(body: bytes) -> bool:
    """Whether a JSON document may hold a NUL character or a surrogate (a cheap scan of its bytes)."""
    return _UNSTORABLE_ESCAPE.search(body) is not None


def storable_json(value: Any) -> Any:
    """A JSON value without NUL characters or unpaired surrogates, which PostgreSQL refuses to store.

    Raw payloads are kept for audit, including fields nobody reads; this keeps one odd character in
    any of them from failing the insert.
    """
    if isinstance(value, str):
        return value.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")
    if isinstance(value, dict):
        return {storable_json(key): storable_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [storable_json(item) for item in value]
    return value


MAX_JSON_DEPTH = 32


class UnreadableJSON(ValueError):
    """Untrusted JSON that cannot be taken; the message says why, for the sender."""


def loads_untrusted(text: str | bytes) -> Any:
    """Parse JSON from outside: malformed text, a number Python will not convert (over 4,300 digits),
    a number that is not finite (PostgreSQL's jsonb refuses them) and nesting deeper than
    MAX_JSON_DEPTH all raise UnreadableJSON instead of whatever the parser or a later step would raise.
    """
    try:
        value = json.loads(text, parse_float=_finite_float, parse_constant=_refuse_constant)
    except RecursionError as problem:
        raise UnreadableJSON(f"The JSON nests deeper than {MAX_JSON_DEPTH} levels.") from problem
    except json.JSONDecodeError as problem:
        raise UnreadableJSON(f"Malformed JSON: {problem}") from problem
    except UnreadableJSON:
        raise
    except ValueError as problem:  # int() refuses a literal of more than sys.get_int_max_str_digits() digits
        raise UnreadableJSON(
            f"A number in the JSON has more than {sys.get_int_max_str_digits():,} digits."
        ) from problem
    if _nests_deeper_than(value, MAX_JSON_DEPTH):
        raise UnreadableJSON(f"The JSON nests deeper than {MAX_JSON_DEPTH} levels.")
    return value


def _finite_float(literal: str) -> float:
    number = float(literal)
    if math.isinf(number):
        raise UnreadableJSON(f"The number {literal[:20]}… is too large.")
    return number


def _refuse_constant(literal: str):
    raise UnreadableJSON(f"{literal} is not a JSON number.")


def _nests_deeper_than(value: Any, limit: int) -> bool:
    """Without recursion, so no depth of nesting can exhaust the stack."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth > limit:
                return True
            stack.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    return False
