"""Clocks: injected time, naive means UTC."""

from datetime import datetime, timedelta, timezone

import pytest

import gantry_local as gantry


def test_manual_clock_moves_only_when_told() -> None:
    clock = gantry.ManualClock(datetime(2023, 1, 1))
    assert clock.now() == datetime(2023, 1, 1, tzinfo=timezone.utc)
    assert clock.advance(timedelta(days=1)) == datetime(2023, 1, 2, tzinfo=timezone.utc)
    assert clock.now() == datetime(2023, 1, 2, tzinfo=timezone.utc)
    clock.set(datetime(2023, 6, 1, 2, tzinfo=timezone(timedelta(hours=2))))
    assert clock.now() == datetime(2023, 6, 1, 0, tzinfo=timezone.utc)


def test_manual_clock_rejects_bad_input() -> None:
    clock = gantry.ManualClock(datetime(2023, 1, 1))
    with pytest.raises(gantry.ValidationError, match="non-negative"):
        clock.advance(timedelta(seconds=-1))
    with pytest.raises(gantry.ValidationError, match="datetime"):
        gantry.ManualClock("2023-01-01")  # type: ignore[arg-type]


def test_system_clock_is_aware_utc() -> None:
    now = gantry.SystemClock().now()
    assert now.tzinfo is timezone.utc
    assert isinstance(gantry.SystemClock(), gantry.Clock)
