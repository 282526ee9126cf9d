"""The one source of "now" for the domain, so that time-dependent behaviour is testable."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

# The years a moment the product takes may fall in: what both databases hold and date
# arithmetic (a deadline, a week) stays inside of.
FIRST_YEAR, LAST_YEAR = 1900, 9000


def holds_year(year: int) -> bool:
    return FIRST_YEAR <= year <= LAST_YEAR


class Clock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FrozenClock(Clock):
    """A clock that moves only when told to (tests, simulations)."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("FrozenClock needs an aware datetime")
        self._now = start.astimezone(UTC)

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> datetime:
        self._now += delta
        return self._now

    def set(self, moment: datetime) -> None:
        self._now = moment.astimezone(UTC)


_clock: Clock = Clock()


def now() -> datetime:
    return _clock.now()


def set_clock(clock: Clock) -> Clock:
    """Install `clock` and return the one it replaces."""
    global _clock
    previous, _clock = _clock, clock
    return previous
