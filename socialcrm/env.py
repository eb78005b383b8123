"""Reading the deployment's settings from the environment.

Each reader returns a typed value or raises ``ConfigError`` with one line that names the variable,
so that a wrong setting stops start-up with a message an operator can act on.
"""

import os
import secrets
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
from cryptography.fernet import Fernet


class ConfigError(Exception):
    """A setting in the environment is missing or malformed."""


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def read_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ConfigError(f"{name}={raw!r} is not a boolean: use one of 1/0, true/false, yes/no, on/off")


def read_port(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        port = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a port number (1-65535)") from None
    if not 1 <= port <= 65535:
        raise ConfigError(f"{name}={raw!r} is not a port number (1-65535)")
    return port


def read_time_zone(name: str, default: str) -> str:
    """An IANA time zone name (Europe/London), checked against the zone database."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    raw = (os.environ.get(name) or "").strip() or default
    try:
        ZoneInfo(raw)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"{name}={raw!r} is not a time zone: use an IANA name such as Europe/London") from None
    return raw


def read_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    items = [item.strip() for item in raw.split(",") if item.strip()]
    if not items:
        raise ConfigError(f"{name} is set but empty: give a comma-separated list")
    return items


def read_database(name: str, *, default_sqlite: Path) -> dict:
    """The DATABASES['default'] dict: PostgreSQL from the URL, else a SQLite file in WAL mode."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return sqlite_database(default_sqlite)
    scheme = urlsplit(raw).scheme
    if scheme not in {"postgres", "postgresql", "pgsql", "sqlite"}:
        raise ConfigError(
            f"{name} has scheme {scheme!r}: use postgres://user@host:port/dbname or sqlite:///path/to/file.sqlite3"
        )
    try:
        config = dj_database_url.parse(raw)
    except ValueError as error:
        raise ConfigError(f"{name} is not a valid database URL: {error}") from None
    if scheme == "sqlite":
        return sqlite_database(Path(config["NAME"]))
    # A connection pool per process: under ASGI each request runs in a thread of its own, so
    # Django's per-thread persistent connections would mean a new connection per request.
    config["CONN_MAX_AGE"] = 0
    config.setdefault("OPTIONS", {})["pool"] = {"min_size": 2, "max_size": 16, "timeout": 10}
    if not config.get("NAME"):
        raise ConfigError(f"{name} names no database: use postgres://user@host:port/dbname")
    try:
        config.get("PORT") and int(config["PORT"])
    except ValueError:
        raise ConfigError(f"{name} has a port that is not a number") from None
    return config


def sqlite_database(path: Path) -> dict:
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": path,
        # WAL lets the web server read while a worker writes; IMMEDIATE avoids
        # "database is locked" when two writers upgrade their locks at once.
        "OPTIONS": {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
        },
    }


def read_redis_url(name: str) -> str | None:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return None
    parts = urlsplit(raw)
    if parts.scheme not in {"redis", "rediss", "unix"}:
        raise ConfigError(f"{name} has scheme {parts.scheme!r}: use redis://host:port/db")
    try:
        parts.port  # noqa: B018 - parsing the port validates it
    except ValueError:
        raise ConfigError(f"{name} has a port that is not a number (1-65535)") from None
    if parts.scheme != "unix" and not parts.hostname:
        raise ConfigError(f"{name} names no host: use redis://host:port/db")
    return raw


def read_secret_key(name: str, *, key_file: Path) -> str:
    """The SECRET_KEY from the environment, else one generated once into a local file."""
    raw = os.environ.get(name)
    if raw is not None:
        if len(raw) < 32:
            raise ConfigError(f"{name} is too short: use at least 32 random characters")
        return raw
    key = _generated_once(key_file, lambda: secrets.token_urlsafe(50))
    if len(key) < 32:
        raise ConfigError(f"{name} is not set and {key_file} holds no usable key: delete the file")
    return key


FERNET_KEY_HINT = (
    "32 url-safe base64-encoded bytes, as printed by "
    "python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'"
)


def read_fernet_keys(name: str, *, key_file: Path) -> list[str]:
    """Fernet keys, comma-separated, from the environment (the first encrypts, every one decrypts).

    Unset, it is one key generated once into `key_file` (mode 600). Set but empty is an error rather
    than a new key: a new key would leave everything encrypted under the old one unreadable. The
    error never repeats a key.
    """
    raw = os.environ.get(name)
    if raw is None:
        keys = [_generated_once(key_file, lambda: Fernet.generate_key().decode())]
        where = f"{name} is not set and {key_file}"
    else:
        keys = [key.strip() for key in raw.split(",") if key.strip()]
        if not keys:
            raise ConfigError(f"{name} is set but empty: give one or more Fernet keys ({FERNET_KEY_HINT})")
        where = name
    for position, key in enumerate(keys, start=1):
        try:
            Fernet(key)
        except ValueError:
            raise ConfigError(
                f"{where} holds a malformed key (key {position} of {len(keys)}): each must be {FERNET_KEY_HINT}"
            ) from None
    return keys


def _generated_once(key_file: Path, make: Callable[[], str]) -> str:
    """The stripped text of `key_file`, which is first written with `make()` (mode 600) if it does not exist."""
    if not key_file.exists():
        # Written aside and linked into place, so a second process starting at the same
        # moment either sees no file or the whole key, never half of it.
        temporary = key_file.with_name(f"{key_file.name}.{os.getpid()}.tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(make())
        try:
            os.link(temporary, key_file)
        except FileExistsError:
            pass
        finally:
            temporary.unlink()
    return key_file.read_text().strip()


def own_origins(hosts: list[str], *, port: int, https: bool) -> list[str]:
    """The origins the site's pages have when served under these host names: https on its default
    port behind TLS (a proxy on 443), else plain http on the port Daphne listens on. Patterns in
    ALLOWED_HOSTS ('*', '.example.com') name no one origin and are left out."""
    names = [host.lower() for host in hosts if host and not host.startswith((".", "*"))]
    if https:
        return [f"https://{name}" for name in names]
    return [f"http://{name}" if port == 80 else f"http://{name}:{port}" for name in names]


def read_origins(name: str, default: list[str]) -> list[str]:
    """A comma-separated list of origins (scheme://host[:port], nothing after), written as browsers
    send them in the Origin header: lower case, without the scheme's default port."""
    raw = os.environ.get(name)
    if raw is None:
        return default
    origins = []
    for item in read_list(name, default):
        try:
            parts = urlsplit(item.lower())
            port = parts.port
        except ValueError:
            raise ConfigError(f"{name} has {item!r}, whose port is not a number (1-65535)") from None
        if parts.scheme not in {"http", "https"} or not parts.hostname or "*" in parts.netloc:
            raise ConfigError(f"{name} has {item!r}: write each origin as https://host or http://host:port")
        if parts.path not in {"", "/"} or parts.query or parts.fragment or parts.username or parts.password:
            raise ConfigError(f"{name} has {item!r}: an origin is scheme://host[:port], with nothing after")
        default_port = {"http": 80, "https": 443}[parts.scheme]
        host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname  # IPv6 in brackets
        origins.append(
            f"{parts.scheme}://{host}" if port in (None, default_port) else f"{parts.scheme}://{host}:{port}"
        )
    return origins
