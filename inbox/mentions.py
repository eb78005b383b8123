"""The network-neutral shape of a mention, and reading one from untrusted JSON.

Every connector (the ingest API, Meta, X, feeds, e-mail, the importer) turns what its network sends
into `IncomingMention`s; `inbox.services.ingest` takes nothing else.
"""

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator

from customers.models import Identity
from socialcrm.payloads import MAX_TEXT_LENGTH, FieldErrors, json_type, parse_bool, parse_followers, storable_json

MAX_ID_LENGTH = 255
MAX_NAME_LENGTH = 255
MAX_URL_LENGTH = 1_000
# The column it fills decides: the parser, the OpenAPI document and the connectors all read this.
MAX_PROFILE_URL_LENGTH = Identity._meta.get_field("profile_url").max_length
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


def clean_text(value: Any, name: str, errors: dict[str, str], *, max_length: int, required: bool = False) -> str:
    """A string safe to store: no NUL bytes, no unpaired surrogates, within the length."""
    if value is None or value == "":
        if required:
            errors[name] = "This field is required."
        return ""
    if not isinstance(value, str):
        errors[name] = f"Must be a string, not {json_type(value)}."
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
    """Read one mention object of the ingest API; raise FieldErrors listing every problem.

    `raw_is_clean` says the caller knows no string in `data` holds a NUL or a lone surrogate (see
    `json_may_hold_unstorable`), which spares cleaning the raw payload kept for audit.
    """
    if not isinstance(data, dict):
        raise FieldErrors({"": f"Each mention must be a JSON object, not {json_type(data)}."})
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
        raise FieldErrors(errors)
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
        errors["author"] = f"Must be an object, not {json_type(data)}."
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
        errors[name] = f"Must be an ISO 8601 date-time string, not {json_type(value)}."
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
