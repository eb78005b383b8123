"""python manage.py import_mentions CHANNEL FILE: history in, with counts and the reason for each rejection."""

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from inbox.management.commands import import_mentions
from inbox.models import Message
from tests.factories import make_channel

CSV_HEADER = (
    "external_id,text,author_external_id,author_handle,author_followers,author_verified,posted_at,in_reply_to,private\n"
)


def run(*args):
    out, err = StringIO(), StringIO()
    call_command("import_mentions", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.fixture
def channel(db):
    return make_channel("history", network="x", kind="x")


def test_a_csv_is_imported_with_counts_and_the_line_and_reason_of_each_rejected_row(channel, tmp_path):
    file = tmp_path / "history.csv"
    file.write_text(
        CSV_HEADER
        + "h1,Where is my refund?,u1,@dana,1200,true,2026-11-01T10:00:00Z,,false\n"
        + "h2,Still waiting,u1,@dana,1200,true,2026-11-02T10:00:00Z,h1,false\n"
        + "h3,,u2,@fox,10,false,,,\n"
        + "h4,From the future,u3,@x,5,false,2999-01-01T00:00:00Z,,\n"
        + "h5,Followers wrong,u4,@y,lots,false,,,\n"
        + "h1,A duplicate of line 2,u1,@dana,1200,true,,,\n"
    )

    out, err = run("history", str(file))

    assert "accepted 2, duplicates 1, rejected 3" in out
    assert "line 4: text: This field is required." in out
    assert "line 5: posted_at: Is in the future." in out
    assert "line 6: author.followers: Must be a whole number from 0 up." in out
    assert "[##############################] 100%" in err
    h2 = Message.objects.get(external_id="h2")
    assert h2.conversation == Message.objects.get(external_id="h1").conversation
    assert h2.author.followers == 1200 and h2.author.verified
    assert not (tmp_path / "history.csv.import-progress").exists()


def test_json_lines_with_a_broken_line(channel, tmp_path):
    file = tmp_path / "history.jsonl"
    good = {"external_id": "j1", "text": "<b>bold</b> claim", "author": {"external_id": "u1"}}
    file.write_text(json.dumps(good) + "\n{not json\n\n" + json.dumps([1, 2]) + "\n")

    out, _ = run("history", str(file))

    assert "accepted 1, duplicates 0, rejected 2" in out
    assert "line 2: not JSON" in out
    assert "line 4: row: Each mention must be a JSON object, not an array." in out
    assert Message.objects.get().text == "<b>bold</b> claim"


def test_an_interrupted_import_resumes_after_the_last_stored_batch(channel, tmp_path, monkeypatch):
    monkeypatch.setattr(import_mentions, "BATCH", 2)
    file = tmp_path / "history.jsonl"
    file.write_text(
        "".join(
            json.dumps({"external_id": f"r{n}", "text": "t", "author": {"external_id": "u"}}) + "\n" for n in range(5)
        )
    )
    real_ingest, calls = import_mentions.ingest, []

    def ingest_that_dies_on_the_second_batch(**kwargs):
        calls.append(kwargs)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real_ingest(**kwargs)

    monkeypatch.setattr(import_mentions, "ingest", ingest_that_dies_on_the_second_batch)
    with pytest.raises(KeyboardInterrupt):
        run("history", str(file))
    assert Message.objects.count() == 2
    monkeypatch.setattr(import_mentions, "ingest", real_ingest)

    out, err = run("history", str(file))

    assert "Resuming after line 2" in err
    assert "accepted 5, duplicates 0, rejected 0" in out
    assert Message.objects.count() == 5


def test_an_unknown_channel_or_file_is_a_clear_error(channel, tmp_path):
    with pytest.raises(CommandError, match=r"No channel 'nope'\. Known: history"):
        run("nope", str(tmp_path / "x.csv"))
    with pytest.raises(CommandError, match="No such file"):
        run("history", str(tmp_path / "missing.csv"))


def test_a_csv_without_a_header_is_a_clear_error(channel, tmp_path):
    file = tmp_path / "noheader.csv"
    file.write_text("h1,hello,u1\n")
    with pytest.raises(CommandError, match="header row"):
        run("history", str(file))
