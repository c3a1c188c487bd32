"""Tests for ingestion.simulator: determinism, chunking, ground truth and events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from ingestion.errors import SimulatorError
from ingestion.simulator import ANOMALY_KINDS, CHANNELS, TelemetrySimulator

START = datetime(2025, 3, 1, 6, 0, tzinfo=UTC)
CHANNEL_NAMES = sorted(spec.name for spec in CHANNELS)


def window(series: pd.Series, start: datetime, end: datetime) -> pd.Series:
    """The samples of a ts-indexed series with start <= ts < end."""
    return series[(series.index >= start) & (series.index < end)]


def test_channels_have_units_and_descriptions() -> None:
    assert {"bus_voltage", "panel_temperature", "wheel_speed", "battery_current"} <= set(
        CHANNEL_NAMES
    )
    assert all(spec.unit and spec.description for spec in CHANNELS)


def test_generate_returns_sorted_utc_grid() -> None:
    points = TelemetrySimulator(cadence_s=10.0).generate(START, START + timedelta(hours=1))

    assert list(points.columns) == ["ts", "channel", "value"]
    assert str(points["ts"].dtype) == "datetime64[ns, UTC]"
    assert sorted(points["channel"].unique()) == CHANNEL_NAMES
    assert len(points) == 360 * len(CHANNELS)
    assert points.equals(points.sort_values(["channel", "ts"], ignore_index=True))
    assert np.isfinite(points["value"]).all()


def test_same_seed_gives_same_data_and_other_seed_differs() -> None:
    end = START + timedelta(hours=2)
    first = TelemetrySimulator(seed=3).generate(START, end)
    assert first.equals(TelemetrySimulator(seed=3).generate(START, end))
    assert not first["value"].equals(TelemetrySimulator(seed=4).generate(START, end)["value"])


@pytest.mark.parametrize("split_s", [1, 10, 1234.5, 3599, 3600 * 3 + 7])
def test_values_do_not_depend_on_chunking(split_s: float) -> None:
    sim = TelemetrySimulator(seed=11)
    end = START + timedelta(hours=5)
    middle = START + timedelta(seconds=split_s)

    whole = sim.generate(START, end)
    parts = pd.concat([sim.generate(START, middle), sim.generate(middle, end)])

    pd.testing.assert_frame_equal(whole, parts.sort_values(["channel", "ts"], ignore_index=True))


@pytest.mark.parametrize("seed", [1, 7, 42])
@pytest.mark.parametrize("hour", [0, 5, 13, 22])
def test_injected_anomalies_in_any_two_hour_window(seed: int, hour: int) -> None:
    start = START.replace(hour=hour, minute=17)
    anomalies = TelemetrySimulator(seed=seed).injected_anomalies(start, start + timedelta(hours=2))

    assert len(anomalies) >= 3
    for anomaly in anomalies:
        assert anomaly.kind in ANOMALY_KINDS
        assert anomaly.channel in CHANNEL_NAMES
        assert timedelta(minutes=1) <= anomaly.end - anomaly.start <= timedelta(minutes=10)
        assert anomaly.start.tzinfo is not None


def test_every_anomaly_kind_appears_within_a_day() -> None:
    anomalies = TelemetrySimulator().injected_anomalies(START, START + timedelta(days=1))
    assert {a.kind for a in anomalies} == set(ANOMALY_KINDS)
    assert len({a.channel for a in anomalies}) == len(CHANNELS)


def test_flatline_holds_one_value_and_level_shift_moves_the_level() -> None:
    sim = TelemetrySimulator(seed=5)
    end = START + timedelta(days=1)
    points = sim.generate(START, end).set_index("ts")
    values = {name: group["value"] for name, group in points.groupby("channel")}
    anomalies = sim.injected_anomalies(START, end)
    flat = next(a for a in anomalies if a.kind == "flatline")
    shift = next(a for a in anomalies if a.kind == "level_shift")

    assert window(values[flat.channel], flat.start, flat.end).nunique() == 1

    series = values[shift.channel]
    during = window(series, shift.start, shift.end).mean()
    before = window(series, shift.start - timedelta(minutes=1), shift.start)
    spec = next(s for s in CHANNELS if s.name == shift.channel)
    assert abs(during - before.mean() - shift.magnitude) < 0.5 * spec.scale


def test_events_present_and_ordered_in_two_hours() -> None:
    sim = TelemetrySimulator()
    end = START + timedelta(hours=2)
    events = sim.events(START, end)
    kinds = {e.kind for e in events}

    assert {"eclipse_entry", "eclipse_exit"} <= kinds
    assert all(START <= e.ts < end for e in events)
    assert [e.ts for e in events] == sorted(e.ts for e in events)
    assert any(e.kind == "telecommand" for e in sim.events(START, START + timedelta(hours=8)))


def test_bus_voltage_drops_in_eclipse() -> None:
    sim = TelemetrySimulator()
    end = START + timedelta(hours=6)
    volts = sim.generate(START, end).query("channel == 'bus_voltage'").set_index("ts")["value"]
    events = [e for e in sim.events(START, end) if e.kind.startswith("eclipse")]
    entry = next(e.ts for e in events if e.kind == "eclipse_entry")
    exit_ = next(e.ts for e in events if e.kind == "eclipse_exit" and e.ts > entry)

    in_eclipse = window(volts, entry + timedelta(minutes=5), exit_)
    in_sun = window(volts, exit_ + timedelta(minutes=20), exit_ + timedelta(minutes=50))
    assert in_eclipse.median() < in_sun.median() - 0.5
    assert 27.0 < in_sun.median() < 29.0


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        (
            datetime(2025, 1, 1),
            datetime(2025, 1, 2, tzinfo=UTC),
            "start must be a timezone-aware datetime",
        ),
        (START, START - timedelta(seconds=1), "is before start"),
    ],
)
def test_invalid_ranges_raise(start: datetime, end: datetime, message: str) -> None:
    with pytest.raises(SimulatorError, match=message):
        TelemetrySimulator().generate(start, end)


def test_empty_range_gives_empty_frame() -> None:
    points = TelemetrySimulator().generate(START, START)
    assert points.empty and list(points.columns) == ["ts", "channel", "value"]
