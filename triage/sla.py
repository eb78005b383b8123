"""SLA clocks: which targets a conversation is running, when each falls due, and when to warn.

The rules, written here once (the services call `due_times` whenever a conversation changes, and
the deadline checker calls `alerts`); business time itself is triage.hours:

- **First response** runs from the conversation's start until an agent answers the customer (a reply,
  public or direct; an internal note never counts). It is owed once: a reopen does not start it again.
- **Next response** runs from when the customer writes again after an agent answered (or the
  conversation is reopened) until an agent answers again.
- **Resolution** runs from the start until the conversation is resolved; a reopen continues it.
- Every clock counts only the queue's business hours, and stands still while the conversation is
  paused: pending (waiting on the customer), snoozed or resolved. The pause ends when it is open
  again (the customer writes, an agent opens it, the snooze ends). While a pause lasts a running
  clock has no due time: it cannot breach.
- A clock that has stopped (met, or resolved) keeps its last due time, so a report can say whether
  it was met; nothing here changes it.
- "Due soon" is announced `due_soon` wall-clock minutes before the earliest due time, the breach at
  it, and each escalation level of the policy the given minutes after it.

It imports no model: the inputs are plain values.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from functools import lru_cache

from triage.hours import BusinessHours, Pause


class Clock(StrEnum):
    FIRST_RESPONSE = "first_response"
    NEXT_RESPONSE = "next_response"
    RESOLUTION = "resolution"

    @property
    def label(self) -> str:
        return {"first_response": "First response", "next_response": "Next response", "resolution": "Resolution"}[self]


class Action(StrEnum):
    """What an escalation level does, besides being recorded."""

    NOTIFY_ASSIGNEE = "notify_assignee"
    NOTIFY_MANAGERS = "notify_managers"
    REASSIGN_TO_QUEUE = "reassign_to_queue"


@dataclass(frozen=True)
class Escalation:
    after_minutes: int  # wall-clock minutes after the breach
    action: Action


@dataclass(frozen=True)
class Targets:
    """What a policy promises one conversation (after narrowing by priority and tier), in business minutes."""

    first_response: int | None
    next_response: int | None
    resolution: int | None
    due_soon_minutes: int = 15
    escalations: tuple[Escalation, ...] = ()

    def minutes(self, clock: Clock) -> int | None:
        return {
            Clock.FIRST_RESPONSE: self.first_response,
            Clock.NEXT_RESPONSE: self.next_response,
            Clock.RESOLUTION: self.resolution,
        }[clock]


NO_TARGETS = Targets(None, None, None, 0)


@dataclass(frozen=True)
class ClockState:
    """What the clocks depend on, read from a conversation."""

    started_at: datetime
    awaiting_since: datetime | None  # when the customer's current unanswered wait began; None when answered
    first_response_at: datetime | None
    resolved: bool
    pauses: tuple[Pause, ...] = ()


def running(state: ClockState) -> list[Clock]:
    """The clocks that run now (one of first and next response, and resolution), or none when resolved."""
    if state.resolved:
        return []
    clocks = []
    if state.first_response_at is None:
        clocks.append(Clock.FIRST_RESPONSE)
    elif state.awaiting_since is not None:
        clocks.append(Clock.NEXT_RESPONSE)
    return [*clocks, Clock.RESOLUTION]


def started(clock: Clock, state: ClockState) -> datetime:
    return state.awaiting_since if clock is Clock.NEXT_RESPONSE else state.started_at


def due_times(state: ClockState, targets: Targets, hours: BusinessHours) -> dict[Clock, datetime | None]:
    """The due time of each running clock: None for one without a target, or paused now."""
    return dict(_due_times(state, targets, hours))


@lru_cache(maxsize=1024)
def _due_times(state: ClockState, targets: Targets, hours: BusinessHours) -> tuple:
    # Remembered: a batch of mentions starts many conversations at one moment under one policy.
    due = []
    for clock in running(state):
        minutes = targets.minutes(clock)
        due.append((clock, None if minutes is None else hours.due_at(started(clock, state), minutes, state.pauses)))
    return tuple(due)


def earliest(due: dict[Clock, datetime | None]) -> tuple[Clock, datetime] | None:
    """The running clock that breaches first, and when; None when none can."""
    dated = [(moment, clock) for clock, moment in due.items() if moment is not None]
    if not dated:
        return None
    moment, clock = min(dated)
    return clock, moment


class Stage(StrEnum):
    DUE_SOON = "due_soon"
    BREACHED = "breached"
    ESCALATED = "escalated"


@dataclass(frozen=True)
class Alert:
    """One moment the deadline checker acts at: `number` counts them from 0 for one due time."""

    number: int
    at: datetime
    stage: Stage
    escalation: Escalation | None = None


def alerts(due: datetime, targets: Targets) -> list[Alert]:
    """Every alert of one due time, in order: due soon (when the policy warns), breach, escalations."""
    found = []
    if targets.due_soon_minutes > 0:
        found.append((due - timedelta(minutes=targets.due_soon_minutes), Stage.DUE_SOON, None))
    found.append((due, Stage.BREACHED, None))
    for level in sorted(targets.escalations, key=lambda e: e.after_minutes):
        found.append((due + timedelta(minutes=level.after_minutes), Stage.ESCALATED, level))
    return [Alert(number, at, stage, level) for number, (at, stage, level) in enumerate(found)]


def business_seconds(hours: BusinessHours, start: datetime, end: datetime, pauses: tuple[Pause, ...]) -> int:
    """How long a wait from `start` to `end` lasted in business time, whole seconds (for reports)."""
    return round(hours.business_minutes(start, end, pauses) * 60)
