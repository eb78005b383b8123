"""The network-neutral shape of a mention, and reading one from untrusted JSON.

Every connector (the ingest API, Meta, X, feeds, e-mail, the importer) turns what its network sends
into `IncomingMention`s; `inbox.services.ingest` takes nothing else.
"""

import json
import math
import re
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator

MAX_TEXT_LENGTH = 10_000
MAX_ID_LENGTH = 255
MAX_NAME_LENGTH = 255
MAX_URL_LENGTH = 1_000
MAX_PROFILE_URL_LENGTH = 500
MAX_FOLLOWERS = 10**12
# A clock a little ahead on the sender's side is normal; a date days ahead is a bug.
FUTURE_TOLERANCE = timedelta(hours=1)


@dataclass(frozen=True)
class IncomingAuthor:
    external_id: str
    handle: str = ""
    name: str = ""
    followers: int | None = None
    verified: bool | None = None
    email: str = ""
    phone: str = ""
    profile_url: str = ""


@dataclass(frozen=True)
class IncomingMention:
    external_id: str
    text: str
    author: IncomingAuthor
    url: str = ""
    posted_at: datetime | None = None
    in_reply_to: str = ""
    private: bool = False
    subject: str = ""  # e-mail subject lines; becomes a new conversation's subject
    raw: Any = field(default=None, compare=False)


class MentionErrors(Exception):
    """The mention is invalid; `errors` maps each field (dotted for nested ones) to what is wrong."""

    def __init__(self, errors: dict[str, str]):
        super().__init__(errors)
        self.errors = errors


def clean_text(value: Any, name: str, errors: dict[str, str], *, max_length: int, required: bool = False) -> str:
    """A string safe to store: no NUL bytes, no unpaired surrogates, within the length."""
    if value is None or value == "":
        if required:
            errors[name] = "This field is required."
        return ""
    if not isinstance(value, str):
        errors[name] = f"Must be a string, not {_json_type(value)}."
        return ""
    if "\x00" in value:
        errors[name] = "Must not contain NUL characters."
        return ""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        errors[name] = "Must not contain unpaired surrogates (invalid Unicode)."
        return ""
    if len(value) > max_length:
        errors[name] = f"At most {max_length:,} characters (got {len(value):,})."
        return ""
    return value


def parse_mention(data: Any, *, now: datetime | None = None, raw_is_clean: bool = False) -> IncomingMention:
    """Read one mention object of the ingest API; raise MentionErrors listing every problem.

    `raw_is_clean` says the caller knows no string in `data` holds a NUL or a lone surrogate (see
    `json_may_hold_unstorable`), which spares cleaning the raw payload kept for audit.
    """
    if not isinstance(data, dict):
        raise MentionErrors({"": f"Each mention must be a JSON object, not {_json_type(data)}."})
    errors: dict[str, str] = {}
    now = now or datetime.now(UTC)
    external_id = clean_text(data.get("external_id"), "external_id", errors, max_length=MAX_ID_LENGTH, required=True)
    if external_id and not external_id.strip():
        errors["external_id"] = "Must not be blank."
    text = clean_text(data.get("text"), "text", errors, max_length=MAX_TEXT_LENGTH, required=True)
    author = _parse_author(data.get("author"), errors)
    url = _parse_url(data.get("url"), "url", errors)
    posted_at = _parse_time(data.get("posted_at"), "posted_at", errors, now=now)
    in_reply_to = clean_text(data.get("in_reply_to"), "in_reply_to", errors, max_length=MAX_ID_LENGTH)
    private = parse_bool(data.get("private"), "private", errors, default=False)
    if errors:
        raise MentionErrors(errors)
    return IncomingMention(
        external_id=external_id,
        text=text,
        author=author,
        url=url,
        posted_at=posted_at,
        in_reply_to=in_reply_to,
        private=private,
        raw=data if raw_is_clean else storable_json(data),
    )


def _parse_author(data: Any, errors: dict[str, str]) -> IncomingAuthor | None:
    if data is None:
        errors["author"] = "This field is required."
        return None
    if not isinstance(data, dict):
        errors["author"] = f"Must be an object, not {_json_type(data)}."
        return None
    external_id = clean_text(
        data.get("external_id"), "author.external_id", errors, max_length=MAX_ID_LENGTH, required=True
    )
    followers = parse_followers(data.get("followers"), "author.followers", errors)
    email = clean_text(data.get("email"), "author.email", errors, max_length=254)
    if email:
        try:
            EmailValidator()(email)
        except ValidationError:
            errors["author.email"] = "Must be an e-mail address."
            email = ""
    return IncomingAuthor(
        external_id=external_id,
        handle=clean_text(data.get("handle"), "author.handle", errors, max_length=MAX_NAME_LENGTH),
        name=clean_text(data.get("name"), "author.name", errors, max_length=MAX_NAME_LENGTH),
        followers=followers,
        verified=parse_bool(data.get("verified"), "author.verified", errors, default=None),
        email=email.lower(),
        profile_url=_parse_url(
            data.get("profile_url"), "author.profile_url", errors, max_length=MAX_PROFILE_URL_LENGTH
        ),
    )


def is_http_url(value: Any) -> bool:
    """An absolute http(s) URL with a host, and no spaces or control characters: safe to show as a link.

    Any host a URL may name is taken (an intranet name, a new top-level domain): the scheme is what
    keeps javascript: and data: out of the inbox's links.
    """
    if not isinstance(value, str) or any(character.isspace() or ord(character) < 32 for character in value):
        return False
    try:
        parts = urlsplit(value)
        return parts.scheme.lower() in {"http", "https"} and bool(parts.hostname) and (parts.port or 1) > 0
    except ValueError:  # an unclosed [ in the host, a port that is not a number or out of range
        return False


def _parse_url(value: Any, name: str, errors: dict[str, str], *, max_length: int = MAX_URL_LENGTH) -> str:
    url = clean_text(value, name, errors, max_length=max_length)
    if url and not is_http_url(url):
        errors[name] = "Must be an http(s) URL."
        return ""
    return url


def _parse_time(value: Any, name: str, errors: dict[str, str], *, now: datetime) -> datetime | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        errors[name] = f"Must be an ISO 8601 date-time string, not {_json_type(value)}."
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        errors[name] = "Must be an ISO 8601 date-time, e.g. 2026-11-23T10:15:00Z."
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)  # documented: a date-time without offset is UTC
    if moment > now + FUTURE_TOLERANCE:
        errors[name] = "Is in the future."
        return None
    if moment.year < 1990:
        errors[name] = "Is before 1990."
        return None
    return moment


def parse_bool(value: Any, name: str, errors: dict[str, str], *, default: bool | None) -> bool | None:
    """true or false; absent or null is the default."""
    if value is None:
        return default
    if not isinstance(value, bool):
        errors[name] = f"Must be true or false, not {_json_type(value)}."
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


def _json_type(value: Any) -> str:
    return {
        dict: "an object",
        list: "an array",
        str: "a string",
        bool: "a boolean",
        int: "a number",
        float: "a number",
        type(None): "null",
    }.get(type(value), type(value).__name__)


def network_text(value: Any, *, max_length: int = MAX_TEXT_LENGTH) -> str:
    """Text a network sent us, made storable rather than refused: NUL bytes dropped, unpaired
    surrogates replaced, cut to the length. For connectors, where one bad character must not
    lose a whole delivery; the ingest API refuses such text instead, so its sender can fix it."""
    if not isinstance(value, str):
        return ""
    return storable_json(value)[:max_length]


# C0 and C1 control characters (CR, LF, tab, NUL...) and Unicode's line and paragraph separators.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def single_line(value: Any, *, max_length: int) -> str:
    """Network text that must stay on one line (a subject, a display name, a header value): control
    characters and line breaks become spaces, runs of white space one space, cut to the length."""
    return " ".join(_CONTROL.sub(" ", network_text(value, max_length=max_length * 2)).split())[:max_length]


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
