"""The small formatters the list shows on every row."""

from datetime import timedelta

import pytest
from django.utils import timezone

from inbox.templatetags.inbox_tags import ago, safe_url
from socialcrm.formatting import compact_number


@pytest.mark.parametrize(
    ("age", "shown"),
    [
        (timedelta(seconds=5), "just now"),
        (timedelta(minutes=5, seconds=30), "5 min ago"),
        (timedelta(hours=3, minutes=59), "3 h ago"),
        (timedelta(days=2, hours=5), "2 d ago"),
        (timedelta(seconds=-20), "just now"),  # a clock a little ahead
        (timedelta(hours=-2), "in the future"),
    ],
)
def test_ago_reads_at_a_glance(age, shown):
    assert ago(timezone.now() - age) == shown


def test_ago_gives_the_date_after_a_month_and_nothing_for_no_time():
    moment = timezone.now() - timedelta(days=45)
    assert ago(moment) == f"{moment.day} {moment:%b %Y}" and ago(None) == ""


def test_compact_numbers_and_safe_urls():
    assert [compact_number(n) for n in (999, 1234, 2_500_000, "x")] == ["999", "1.2k", "2.5M", ""]
    assert safe_url("javascript:alert(1)") == "" and safe_url("https://x.example/a") == "https://x.example/a"
