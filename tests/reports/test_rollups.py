"""The rollups follow the conversations as they change, and a rebuild from nothing gives the same rows."""

from datetime import timedelta

import pytest
from django.utils import timezone

from inbox.models import Conversation, Status
from inbox.services.conversations import change_status
from inbox.services.ingest import ingest
from inbox.services.replies import reply
from inbox.services.triage import change_queue
from reports import rollups
from reports.figures import Period, breakdown, collect, total
from reports.models import AgentTally, ConversationFacts, Durations, Measure, ResponseTimes, Tally
from tests.factories import make_channel, make_user
from tests.helpers import mention
from triage.models import Queue

pytestmark = pytest.mark.django_db


@pytest.fixture
def channel():
    channel = make_channel("x-main")
    channel.default_queue = Queue.objects.get(slug="service")
    channel.save()
    return channel


@pytest.fixture
def agent():
    return make_user("sam", role="agent", queues=("service", "sales"))


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """Run a step and what follows its commit (the rollups' refresh among it)."""

    def run(step, *args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return step(*args, **kwargs)

    return run


def write(committed, channel, external_id, author="u1", text="My phone has no signal") -> Conversation:
    result = committed(ingest, channel=channel, mentions=[mention(external_id, text, author=author)])
    return Conversation.objects.get(pk=result.messages[0].conversation_id)


def this_week() -> Period:
    today = timezone.now().date()
    return Period(first=today - timedelta(days=6), last=today)


def snapshot() -> dict:
    def rows(model):
        fields = ["grain", "start", *model.DIMENSIONS]
        return {
            tuple(row[f] for f in fields): tuple(row[m] for m in model.MEASURES)
            for row in model.objects.values(*fields, *model.MEASURES)
            if any(row[m] for m in model.MEASURES)
        }

    return {model.__name__: rows(model) for model in (Tally, AgentTally, Durations, ResponseTimes)}


def test_a_conversations_life_adds_up(committed, channel, agent):
    conversation = write(committed, channel, "m1")
    committed(reply, conversation=conversation, text="Sorry to hear that, let me look.", by=agent, private=False)
    write(committed, channel, "m2")  # the customer writes again: a next response is owed
    committed(
        reply, conversation=Conversation.objects.get(pk=conversation.pk), text="Fixed now?", by=agent, private=False
    )
    committed(change_status, conversation=conversation, status=Status.RESOLVED, by=agent)
    write(committed, channel, "m3")  # writes after the resolve: reopened
    other = write(committed, channel, "m4", author="u2")

    figures = total(this_week())
    assert figures["opened"] == 2
    assert figures["messages_in"] == 4
    assert figures["replies_out"] == 2
    assert figures["resolutions"] == 1
    assert figures["reopens"] == 1
    assert figures.reopen_rate == 1.0
    assert figures["first_response_met"] == 1 and figures["next_response_met"] == 1
    assert figures.median(Measure.FIRST_RESPONSE_WALL) is not None
    agents = {group.label: group for group in breakdown(this_week(), "agent")}
    assert agents["sam"].figures["replies_out"] == 2 and agents["sam"].figures["resolutions"] == 1
    assert agents["sam"].open_load == 1

    committed(change_queue, conversation=other, queue=Queue.objects.get(slug="sales"), by=agent)
    queues = {group.label: group.figures["opened"] for group in breakdown(this_week(), "queue")}
    assert queues == {"Service": 1, "Sales": 1}, "a conversation counts in the queue it is in now"


def test_a_rebuild_from_nothing_gives_the_same_rows(committed, channel, agent):
    conversation = write(committed, channel, "m1")
    committed(reply, conversation=conversation, text="On it.", by=agent, private=False)
    committed(change_status, conversation=conversation, status=Status.RESOLVED, by=agent)
    write(committed, channel, "m2", author="u2")
    kept = snapshot()
    assert kept["Tally"]

    assert rollups.rebuild() == 2
    assert snapshot() == kept
    assert ConversationFacts.objects.count() == 2


def test_refreshing_twice_changes_nothing(committed, channel, agent):
    conversation = write(committed, channel, "m1")
    kept = snapshot()
    rollups.refresh([conversation.pk])
    rollups.refresh([conversation.pk, conversation.pk])
    assert snapshot() == kept


def test_a_deleted_conversation_counts_no_more(committed, channel):
    conversation = write(committed, channel, "m1")
    assert total(this_week())["opened"] == 1
    committed(conversation.delete)
    assert total(this_week())["opened"] == 0
    assert not ConversationFacts.objects.exists()


def test_buckets_group_the_same_rows(committed, channel):
    write(committed, channel, "m1")
    write(committed, channel, "m2", author="u2")
    period = this_week()
    whole = total(period)["opened"]
    assert whole == 2
    by_day = collect(period, by_bucket=True)
    assert sum(f["opened"] for f in by_day.values()) == whole
    by_hour = collect(Period(first=period.first, last=period.last, bucket="hour"), by_bucket=True)
    assert sum(f["opened"] for f in by_hour.values()) == whole


def test_days_begin_at_the_brands_midnight_even_off_by_half_an_hour():
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    kolkata = ZoneInfo("Asia/Kolkata")  # UTC+5:30
    where = rollups.Dimensions(queue_id=1, channel_id=1, message_type="", sentiment="")
    before, after = datetime(2026, 3, 1, 18, 20, tzinfo=UTC), datetime(2026, 3, 1, 18, 40, tzinfo=UTC)
    rows = rollups.rows_of(where, [rollups.Fact(before, "opened"), rollups.Fact(after, "opened")], kolkata)
    days = sorted(key[2] for key in rows if key[1] == rollups.DAY)
    assert [day.astimezone(kolkata).date().isoformat() for day in days] == ["2026-03-01", "2026-03-02"]
    hours = {key[2] for key in rows if key[1] == rollups.HOUR}
    assert hours == {datetime(2026, 3, 1, 18, tzinfo=UTC)}, "both in one UTC hour"


@pytest.mark.django_db(transaction=True)  # the workers are other processes: they see only what is committed
def test_a_rebuild_in_parallel_processes_gives_the_same_rows_as_one():
    from tests.factories import ensure_migrated_data, make_conversation

    ensure_migrated_data()  # a transactional test: the seeded queues are made again
    agent = make_user("sam", role="agent", queues=("service", "sales"))
    made = [make_conversation(slug, text=f"No signal {n}") for n, slug in enumerate(["service", "sales"] * 3)]
    reply(conversation=made[0], text="On it.", by=agent, private=False)
    change_status(conversation=made[1], status=Status.RESOLVED, by=agent)
    assert rollups.rebuild(chunk=2) == 6
    one_process = snapshot()
    assert one_process["Tally"] and one_process["AgentTally"]

    assert rollups.rebuild(chunk=1, workers=2) == 6
    assert snapshot() == one_process
    assert ConversationFacts.objects.count() == 6
