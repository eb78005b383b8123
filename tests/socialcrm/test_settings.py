"""A wrong setting names itself in one line and stops start-up."""

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from socialcrm import env

ROOT = Path(__file__).resolve().parents[2]


def start_django(**environment: str) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "PORT", "DEBUG"}}
    return subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env={**base, **environment},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("DATABASE_URL", "mysql://root@localhost/crm"),
        ("DATABASE_URL", "postgres://user@host:notaport/db"),
        ("DATABASE_URL", "not a url at all"),
        ("REDIS_URL", "http://127.0.0.1:6379"),
        ("REDIS_URL", "redis://:6379/0"),
        ("PORT", "eighty"),
        ("PORT", "70000"),
        ("DEBUG", "maybe"),
        ("ALLOW_PRIVATE_FETCH", "maybe"),
        ("SECRET_KEY", "short"),
        ("SITE_ORIGINS", "crm.example.com"),
        ("SITE_ORIGINS", "https://*.example.com"),
        ("SITE_ORIGINS", "https://crm.example.com/inbox"),
    ],
)
def test_a_malformed_setting_stops_start_up_with_one_line_naming_it(variable, value):
    result = start_django(**{variable: value})

    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("socialcrm: configuration error:")
    assert variable in lines[0]


def test_a_postgres_url_becomes_the_database_settings(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test")
    config = env.read_database("DATABASE_URL", default_sqlite=Path("unused"))
    assert config["ENGINE"] == "django.db.backends.postgresql"
    assert (config["HOST"], config["PORT"], config["NAME"]) == ("127.0.0.1", 5432, "test")


def test_without_database_url_it_uses_sqlite_in_wal_mode(monkeypatch, tmp_path):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    config = env.read_database("DATABASE_URL", default_sqlite=tmp_path / "db.sqlite3")
    assert config["ENGINE"] == "django.db.backends.sqlite3"
    assert "journal_mode=WAL" in config["OPTIONS"]["init_command"]


def test_the_secret_key_is_generated_once_into_a_private_file(monkeypatch, tmp_path):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    key_file = tmp_path / ".secret_key"

    first = env.read_secret_key("SECRET_KEY", key_file=key_file)
    second = env.read_secret_key("SECRET_KEY", key_file=key_file)

    assert first == second
    assert len(first) >= 50
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert list(tmp_path.iterdir()) == [key_file]  # no temporary file left behind


def test_the_secret_key_file_is_ignored_by_git():
    ignored = (ROOT / ".gitignore").read_text().splitlines()
    assert "/.secret_key" in ignored


def test_the_sites_origins_are_its_hosts_on_its_port_or_on_https_behind_tls():
    hosts = ["127.0.0.1", "Crm.Example.com", "[::1]", ".example.com", "*"]

    assert env.own_origins(hosts, port=8000, https=False) == [
        "http://127.0.0.1:8000",
        "http://crm.example.com:8000",
        "http://[::1]:8000",
    ]
    assert env.own_origins(hosts, port=80, https=False)[1] == "http://crm.example.com"
    assert env.own_origins(hosts, port=8000, https=True) == [
        "https://127.0.0.1",
        "https://crm.example.com",
        "https://[::1]",
    ]


def test_site_origins_from_the_environment_are_written_as_browsers_send_them(monkeypatch):
    monkeypatch.setenv("SITE_ORIGINS", "HTTPS://CRM.example.com:443/, https://crm.example.com:8443,http://[::1]:80")

    assert env.read_origins("SITE_ORIGINS", default=[]) == [
        "https://crm.example.com",
        "https://crm.example.com:8443",
        "http://[::1]",
    ]
