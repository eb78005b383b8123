"""Report rollups: counts per hour and per brand-time day, kept up to date as conversations change.

Each conversation's part in the figures is written down as its *facts* (ConversationFacts): when it
opened, each message in and reply out, each resolve and reopen, each response with its wait. The
rollup rows are the sums of those facts over every conversation, per hour and per day (in the
brand's time zone), and by the dimensions a report groups by. When a conversation changes, its facts
are read again and only the difference is added to the rollups (reports.rollups), so a report reads
a few thousand rows however many messages lie behind them.

Dimensions are plain integers, not foreign keys: 0 means "none" (no queue yet, no agent), and a
rollup outlives what it counts (a deleted channel's history still adds up). `rebuild_report_rollups`
rebuilds everything from the conversations.
"""

from django.db import models


class Grain(models.IntegerChoices):
    HOUR = 1, "hour"
    DAY = 2, "day"  # a calendar day in the brand's time zone (settings.BRAND_TIME_ZONE)


class Rollup(models.Model):
    """Counts of facts that fell in one hour or brand-time day (`start`), for one combination of dimensions."""

    grain = models.PositiveSmallIntegerField(choices=Grain.choices)
    start = models.DateTimeField()
    queue_id = models.PositiveIntegerField(default=0)

    DIMENSIONS: tuple[str, ...]
    MEASURES: tuple[str, ...]

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return f"{type(self).__name__} {Grain(self.grain).label} from {self.start:%Y-%m-%d %H:%M}"


class Tally(Rollup):
    """Conversations' volumes and SLA outcomes, by queue, channel, type and sentiment (the conversation's
    present ones: a conversation triaged into Service after it opened counts in Service)."""

    channel_id = models.PositiveIntegerField(default=0)
    message_type = models.CharField(max_length=16, blank=True)
    sentiment = models.CharField(max_length=16, blank=True)
    opened = models.IntegerField(default=0)
    messages_in = models.IntegerField(default=0)
    replies_out = models.IntegerField(default=0)
    resolutions = models.IntegerField(default=0)
    reopens = models.IntegerField(default=0)
    first_response_met = models.IntegerField(default=0)
    first_response_missed = models.IntegerField(default=0)
    next_response_met = models.IntegerField(default=0)
    next_response_missed = models.IntegerField(default=0)
    resolution_met = models.IntegerField(default=0)
    resolution_missed = models.IntegerField(default=0)

    DIMENSIONS = ("queue_id", "channel_id", "message_type", "sentiment")
    MEASURES = (
        "opened",
        "messages_in",
        "replies_out",
        "resolutions",
        "reopens",
        "first_response_met",
        "first_response_missed",
        "next_response_met",
        "next_response_missed",
        "resolution_met",
        "resolution_missed",
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["grain", "start", "queue_id", "channel_id", "message_type", "sentiment"], name="tally_one_row"
            )
        ]


class AgentTally(Rollup):
    """What each agent did: replies sent, conversations resolved ("handled"), waits answered and met."""

    agent_id = models.PositiveIntegerField(default=0)
    replies_out = models.IntegerField(default=0)
    resolutions = models.IntegerField(default=0)
    responses = models.IntegerField(default=0)
    responses_met = models.IntegerField(default=0)
    responses_missed = models.IntegerField(default=0)

    DIMENSIONS = ("queue_id", "agent_id")
    MEASURES = ("replies_out", "resolutions", "responses", "responses_met", "responses_missed")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["grain", "start", "queue_id", "agent_id"], name="agent_tally_one_row")
        ]


class Measure(models.IntegerChoices):
    """The durations reports give medians and 90th percentiles of, each in business and wall-clock time."""

    FIRST_RESPONSE_BUSINESS = 1, "first response (business)"
    FIRST_RESPONSE_WALL = 2, "first response (wall clock)"
    NEXT_RESPONSE_BUSINESS = 3, "next response (business)"
    NEXT_RESPONSE_WALL = 4, "next response (wall clock)"
    RESOLUTION_BUSINESS = 5, "resolution (business)"
    RESOLUTION_WALL = 6, "resolution (wall clock)"
    RESPONSE_BUSINESS = 7, "response, first or next (business)"  # agents' (ResponseTimes)


class Durations(Rollup):
    """How many durations of a measure fell in each histogram bin (reports.durations has the bins):
    medians and percentiles add up over hours and queues where averages of rows would not."""

    measure = models.PositiveSmallIntegerField(choices=Measure.choices)
    bin = models.PositiveSmallIntegerField()
    count = models.IntegerField(default=0)

    DIMENSIONS = ("queue_id", "measure", "bin")
    MEASURES = ("count",)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["grain", "start", "queue_id", "measure", "bin"], name="durations_one_row")
        ]


class ResponseTimes(Rollup):
    """Each agent's responses (first and next together) by business-time histogram bin: their median
    response time. A table of its own, so the queues' durations are not multiplied by agents."""

    agent_id = models.PositiveIntegerField()
    bin = models.PositiveSmallIntegerField()
    count = models.IntegerField(default=0)

    DIMENSIONS = ("queue_id", "agent_id", "bin")
    MEASURES = ("count",)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["grain", "start", "queue_id", "agent_id", "bin"], name="response_times_one_row"
            )
        ]


class ConversationFacts(models.Model):
    """A conversation's part in the rollups as last added to them: where it counted and its facts
    (reports.rollups.Fact as lists). What a change adds is the rows of its facts now less these."""

    conversation_id = models.BigIntegerField(primary_key=True)
    queue_id = models.PositiveIntegerField(default=0)
    channel_id = models.PositiveIntegerField(default=0)
    message_type = models.CharField(max_length=16, blank=True)
    sentiment = models.CharField(max_length=16, blank=True)
    facts = models.JSONField(default=list)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Report facts of conversation #{self.conversation_id}"

    @classmethod
    def of(cls, conversation_id: int, where, facts: list[list]) -> "ConversationFacts":
        return cls(
            conversation_id=conversation_id,
            queue_id=where.queue_id,
            channel_id=where.channel_id,
            message_type=where.message_type,
            sentiment=where.sentiment,
            facts=facts,
        )

    def dimensions(self):
        from reports.rollups import Dimensions

        return Dimensions(self.queue_id, self.channel_id, self.message_type, self.sentiment)
