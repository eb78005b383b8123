"""Influence as the admin tunes it, and triage_eval's report."""

import csv
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from triage.models import TriageSettings
from triage.scoring import Author, InfluencePolicy

pytestmark = pytest.mark.django_db


@pytest.fixture
def policy() -> InfluencePolicy:
    return InfluencePolicy.from_settings(TriageSettings.load())


@pytest.mark.parametrize(
    ("author", "band"),
    [
        (Author(), "low"),
        (Author(followers=500), "low"),
        (Author(followers=5_000), "medium"),
        (Author(followers=500_000), "high"),
        (Author(followers=80, tier="premium"), "medium"),
        (Author(followers=80, verified=True, tier="premium"), "high"),
        (Author(tier="vip"), "high"),
        (Author(lifetime_value=50_000, past_conversations=40), "high"),
    ],
)
def test_followers_verification_tier_value_and_history_each_count(policy, author, band):
    assert policy.band(policy.score(author)) == band


def test_more_of_anything_never_lowers_influence(policy):
    base = Author(followers=2_000)
    assert policy.score(Author(followers=2_000, verified=True)) > policy.score(base)
    assert policy.score(Author(followers=2_000, tier="plus")) > policy.score(base)
    assert 0 <= policy.score(Author(followers=10**12, verified=True, tier="vip", lifetime_value=10**9)) <= 1


def test_a_part_with_weight_zero_is_left_out():
    settings = TriageSettings.load()
    settings.followers_weight = 0
    settings.save()
    policy = InfluencePolicy.from_settings(settings)

    assert policy.score(Author(followers=10_000_000)) == 0


def write_csv(tmp_path, rows, header=("text", "label")):
    path = tmp_path / "set.csv"
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def test_triage_eval_prints_per_class_scores_macro_scores_and_a_confusion_matrix(tmp_path):
    path = write_csv(
        tmp_path,
        [
            ("I love this, thank you so much!", "positive"),
            ("Worst service ever, I am furious", "negative"),
            ("The store opens at 9 on Mondays", "neutral"),
            ("Absolutely brilliant update 😍", "positive"),
        ],
    )
    out = StringIO()

    call_command("triage_eval", str(path), "--task", "sentiment", stdout=out, stderr=StringIO())

    report = out.getvalue()
    assert "sentiment: 4 messages" in report
    for word in ("precision", "recall", "f1", "support", "macro-recall", "macro-F1", "confusion matrix"):
        assert word in report
    assert [
        line.split()[0] for line in report.splitlines() if line.split()[:1] in (["negative"], ["neutral"], ["positive"])
    ][:3] == ["negative", "neutral", "positive"]


def test_triage_eval_scores_types_and_queues_too(tmp_path):
    types = write_csv(tmp_path, [("How do I reset my PIN?", "question"), ("Please add dark mode", "feedback")])
    out = StringIO()
    call_command("triage_eval", str(types), "--task", "type", stdout=out, stderr=StringIO())
    assert "type: 2 messages" in out.getvalue()

    queues = write_csv(tmp_path, [("How much is the family plan?", "sales"), ("My bill is wrong", "service")])
    out = StringIO()
    call_command("triage_eval", str(queues), "--task", "queue", stdout=out, stderr=StringIO())
    assert "queue: 2 messages" in out.getvalue() and "sales" in out.getvalue()


@pytest.mark.parametrize(
    ("rows", "header", "message"),
    [
        ([("hi", "happy")], ("text", "label"), r"unknown sentiment label\(s\) 'happy'"),
        ([("hi", "")], ("text", "label"), "has no label"),
        ([("hi", "positive")], ("body", "label"), "missing text"),
        ([], ("text", "label"), "no rows"),
    ],
)
def test_triage_eval_refuses_bad_files_clearly(tmp_path, rows, header, message):
    path = write_csv(tmp_path, rows, header)

    with pytest.raises(CommandError, match=message):
        call_command("triage_eval", str(path), "--task", "sentiment", stdout=StringIO(), stderr=StringIO())


def test_triage_eval_refuses_a_missing_or_binary_file(tmp_path):
    with pytest.raises(CommandError, match="no such file"):
        call_command("triage_eval", str(tmp_path / "nope.csv"), "--task", "type", stdout=StringIO())
    binary = tmp_path / "b.csv"
    binary.write_bytes(b"\xff\xfe\x00text,label")
    with pytest.raises(CommandError, match="not a UTF-8 CSV"):
        call_command("triage_eval", str(binary), "--task", "type", stdout=StringIO())
