"""A seeded spacecraft telemetry simulator with ground-truth anomalies and context events.

Every value is a pure function of ``(seed, channel, timestamp)``: the orbit, the reaction
wheel's momentum cycle and the anomaly schedule are computed from the timestamp itself,
and noise comes from a counter-based hash (SplitMix64) keyed by the seed, the channel
and the timestamp in nanoseconds. So ``generate(a, c)`` equals ``generate(a, b)``
followed by ``generate(b, c)``, whatever the chunking, and no clock is read inside.

Samples lie on a grid of ``cadence_s`` seconds counted from the Unix epoch; a range
``[start, end)`` is half-open. Anomalies are placed one per 30-minute slot (counted from
the epoch), on a channel and of a kind chosen by the seed, lasting 1-10 minutes, so any
hour holds at least one whole anomaly.
"""

from __future__ import annotations

import hashlib
import logging
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from ingestion.errors import SimulatorError

__all__ = [
    "ANOMALY_KINDS",
    "CHANNELS",
    "ChannelSpec",
    "InjectedAnomaly",
    "SimEvent",
    "TelemetrySimulator",
]

logger = logging.getLogger(__name__)

# Orbit and platform constants (seconds unless stated).
ORBIT_PERIOD_S = 95 * 60.0  # low Earth orbit period
ECLIPSE_S = 35 * 60.0  # time in Earth's shadow per orbit
DUMP_PERIOD_S = 8 * 3600.0  # reaction-wheel momentum dump interval
DUMP_S = 10 * 60.0  # duration of one momentum dump
WHEEL_MIN_RPM, WHEEL_MAX_RPM = 1200.0, 3000.0  # wheel speed after / before a dump
PANEL_HOT_C, PANEL_COLD_C, PANEL_TAU_S = 75.0, -65.0, 900.0  # panel thermal model
# Anomaly schedule.
SLOT_S = 30 * 60.0  # one injected anomaly per slot
MIN_ANOMALY_S, MAX_ANOMALY_S = 60.0, 600.0  # anomaly duration range
SPIKE_MAX_S = 120.0  # spikes are short
ANOMALY_KINDS = ("spike", "level_shift", "variance_change", "flatline", "drift")

_MASK64 = (1 << 64) - 1
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


@dataclass(frozen=True)
class ChannelSpec:
    """A simulated channel: name, unit, description, noise level and anomaly scale."""

    name: str
    unit: str
    description: str
    noise: float  # standard deviation of the measurement noise, in ``unit``
    scale: float  # typical anomaly magnitude, in ``unit``


CHANNELS: tuple[ChannelSpec, ...] = (
    ChannelSpec("bus_voltage", "V", "Main power bus voltage; ~28 V, sags in eclipse", 0.05, 1.0),
    ChannelSpec(
        "battery_current",
        "A",
        "Battery current; positive while charging in sunlight, negative in eclipse",
        0.08,
        1.5,
    ),
    ChannelSpec(
        "panel_temperature",
        "degC",
        "Solar panel temperature; warms in sunlight, cools in eclipse, with thermal lag",
        0.3,
        12.0,
    ),
    ChannelSpec(
        "wheel_speed",
        "rpm",
        "Reaction wheel speed; drifts up as momentum builds, drops at momentum dumps",
        3.0,
        300.0,
    ),
)
_SPECS = {spec.name: spec for spec in CHANNELS}


@dataclass(frozen=True)
class SimEvent:
    """A context event: eclipse entry/exit or a telecommand."""

    ts: datetime
    kind: str
    text: str


@dataclass(frozen=True)
class InjectedAnomaly:
    """Ground truth: samples with ``start <= ts < end`` on ``channel`` are anomalous."""

    channel: str
    kind: str
    start: datetime
    end: datetime
    magnitude: float  # in the channel's unit: offset, peak, extra noise std or total drift


class TelemetrySimulator:
    """Deterministic telemetry for one satellite; see the module docstring."""

    def __init__(self, seed: int = 7, cadence_s: float = 10.0, satellite: str = "SIM-1") -> None:
        if cadence_s <= 0 or not math.isfinite(cadence_s):
            raise SimulatorError(
                f"cadence_s must be a positive number of seconds; got {cadence_s}"
            )
        self.seed = seed
        self.cadence_s = cadence_s
        self.satellite = satellite
        self._cadence_ns = int(round(cadence_s * 1e9))
        self._key = _mix_int(_stable_hash(f"seed:{seed}"))
        self._orbit_offset_s = float(math.floor(_unit_int(self._key, 1) * ORBIT_PERIOD_S))
        self._dump_offset_s = float(math.floor(_unit_int(self._key, 2) * DUMP_PERIOD_S))

    @property
    def channels(self) -> tuple[ChannelSpec, ...]:
        """The simulated channels."""
        return CHANNELS

    def generate(self, start: datetime, end: datetime) -> pd.DataFrame:
        """Samples in ``[start, end)``: columns ts (UTC), channel, value; sorted by channel, ts.

        Values depend only on (seed, channel, timestamp), never on how a range is chunked.
        """
        start_ns, end_ns = _check_range(start, end)
        first = -(-start_ns // self._cadence_ns)
        last = -(-end_ns // self._cadence_ns)
        ts_ns = np.arange(first, last, dtype=np.int64) * self._cadence_ns
        anomalies = self.injected_anomalies(start, end)

        frames = []
        for spec in CHANNELS:
            values = self._clean(spec, ts_ns) + spec.noise * _normal(self._ckey(spec), ts_ns, 0)
            for anomaly in (a for a in anomalies if a.channel == spec.name):
                values = self._inject(spec, anomaly, ts_ns, values)
            frames.append(
                pd.DataFrame(
                    {
                        "ts": pd.to_datetime(ts_ns, unit="ns", utc=True),
                        "channel": spec.name,
                        "value": values,
                    }
                )
            )
        points = pd.concat(frames, ignore_index=True)
        return points.sort_values(["channel", "ts"], kind="stable", ignore_index=True)

    def events(self, start: datetime, end: datetime) -> list[SimEvent]:
        """Eclipse entries/exits and telecommands with ``start <= ts < end``, in time order."""
        start_ns, end_ns = _check_range(start, end)
        t0, t1 = start_ns / 1e9, end_ns / 1e9
        found: list[tuple[float, str, str]] = []

        # Eclipse: the last ECLIPSE_S seconds of each orbit (phase counted from the offset).
        n0 = math.floor((t0 - self._orbit_offset_s) / ORBIT_PERIOD_S) - 1
        n1 = math.ceil((t1 - self._orbit_offset_s) / ORBIT_PERIOD_S) + 1
        for n in range(n0, n1 + 1):
            exit_s = self._orbit_offset_s + n * ORBIT_PERIOD_S
            found.append((exit_s - ECLIPSE_S, "eclipse_entry", "Eclipse entry (umbra)"))
            found.append((exit_s, "eclipse_exit", "Eclipse exit (sunlight)"))

        # Momentum dumps are commanded from the ground.
        m0 = math.floor((t0 - self._dump_offset_s) / DUMP_PERIOD_S) - 1
        m1 = math.ceil((t1 - self._dump_offset_s) / DUMP_PERIOD_S) + 1
        for m in range(m0, m1 + 1):
            dump_s = self._dump_offset_s + (m + 1) * DUMP_PERIOD_S - DUMP_S
            found.append((dump_s, "telecommand", "TC AOCS_MOMENTUM_DUMP START"))
            found.append((dump_s + DUMP_S, "telecommand", "TC AOCS_MOMENTUM_DUMP STOP"))

        # Some anomalies follow a commanded configuration change.
        for anomaly in self.injected_anomalies(start - timedelta(hours=1), end):
            if anomaly.kind == "level_shift" and anomaly.channel == "battery_current":
                on_s = anomaly.start.timestamp() - 5.0
                found.append((on_s, "telecommand", "TC THERMAL_HEATER_B ON"))
                found.append((anomaly.end.timestamp(), "telecommand", "TC THERMAL_HEATER_B OFF"))

        return [
            SimEvent(ts=_dt(t), kind=kind, text=text)
            for t, kind, text in sorted(found)
            if t0 <= t < t1
        ]

    def injected_anomalies(self, start: datetime, end: datetime) -> list[InjectedAnomaly]:
        """Ground-truth anomalies overlapping ``[start, end)``, in time order."""
        start_ns, end_ns = _check_range(start, end)
        first = math.floor(start_ns / 1e9 / SLOT_S) - 1
        last = math.floor(end_ns / 1e9 / SLOT_S)
        found = [self._slot_anomaly(slot) for slot in range(first, last + 1)]
        return [a for a in found if a.end > _dt(start_ns / 1e9) and a.start < _dt(end_ns / 1e9)]

    # --- the model ----------------------------------------------------------------------

    def _ckey(self, spec: ChannelSpec) -> int:
        return _mix_int(self._key ^ _stable_hash(spec.name))

    def _clean(self, spec: ChannelSpec, ts_ns: NDArray[np.int64]) -> NDArray[np.float64]:
        """Noise-free value of ``spec`` at each time."""
        t = ts_ns / 1e9
        phase = np.mod(t - self._orbit_offset_s, ORBIT_PERIOD_S)
        sunlit_s = ORBIT_PERIOD_S - ECLIPSE_S
        eclipse = phase >= sunlit_s
        in_sun = np.where(eclipse, 0.0, phase)  # seconds since eclipse exit
        in_shadow = np.where(eclipse, phase - sunlit_s, 0.0)  # seconds since eclipse entry
        if spec.name == "bus_voltage":
            sun = 28.3 - 1.6 * np.exp(-in_sun / 600.0)
            shadow = 27.6 - 1.0 * in_shadow / ECLIPSE_S
            return np.where(eclipse, shadow, sun)
        if spec.name == "battery_current":
            sun = 0.4 + 3.0 * np.exp(-in_sun / 1500.0)
            shadow = -3.2 - 0.3 * in_shadow / ECLIPSE_S
            return np.where(eclipse, shadow, sun)
        if spec.name == "panel_temperature":
            return _panel_temperature(phase, sunlit_s)
        # wheel_speed: a slow ramp between dumps, a quick spin-down during a dump.
        cycle = np.mod(t - self._dump_offset_s, DUMP_PERIOD_S)
        ramp_s = DUMP_PERIOD_S - DUMP_S
        span = WHEEL_MAX_RPM - WHEEL_MIN_RPM
        ramp = WHEEL_MIN_RPM + span * cycle / ramp_s
        dump = WHEEL_MAX_RPM - span * (cycle - ramp_s) / DUMP_S
        orbital = 25.0 * np.sin(2 * np.pi * phase / ORBIT_PERIOD_S)
        return np.where(cycle < ramp_s, ramp, dump) + orbital

    def _inject(
        self,
        spec: ChannelSpec,
        anomaly: InjectedAnomaly,
        ts_ns: NDArray[np.int64],
        values: NDArray[np.float64],
    ) -> NDArray[np.float64]:
        a_ns, b_ns = _ns(anomaly.start), _ns(anomaly.end)
        inside = (ts_ns >= a_ns) & (ts_ns < b_ns)
        if not inside.any():
            return values
        frac = (ts_ns[inside] - a_ns) / (b_ns - a_ns)  # 0 at start, 1 at end
        out = values.copy()
        if anomaly.kind == "spike":
            out[inside] += anomaly.magnitude * (1.0 - np.abs(2.0 * frac - 1.0))
        elif anomaly.kind == "level_shift":
            out[inside] += anomaly.magnitude
        elif anomaly.kind == "variance_change":
            out[inside] += anomaly.magnitude * _normal(self._ckey(spec), ts_ns[inside], 1)
        elif anomaly.kind == "flatline":
            stuck = np.array([a_ns], dtype=np.int64)
            noise = spec.noise * _normal(self._ckey(spec), stuck, 0)
            out[inside] = (self._clean(spec, stuck) + noise)[0]
        else:  # drift
            out[inside] += anomaly.magnitude * frac
        return out

    def _slot_anomaly(self, slot: int) -> InjectedAnomaly:
        key = _mix_int(self._key ^ _mix_int(slot & _MASK64) ^ 0xA5A5)
        spec = CHANNELS[int(_unit_int(key, 1) * len(CHANNELS))]
        kind = ANOMALY_KINDS[int(_unit_int(key, 2) * len(ANOMALY_KINDS))]
        if kind == "level_shift" and _unit_int(key, 7) < 0.5:
            spec = _SPECS["battery_current"]  # the heater-switching case, with telecommands
        longest = SPIKE_MAX_S if kind == "spike" else MAX_ANOMALY_S
        duration = MIN_ANOMALY_S + _unit_int(key, 3) * (longest - MIN_ANOMALY_S)
        offset = _unit_int(key, 4) * (SLOT_S - duration)
        start_s = slot * SLOT_S + offset
        cadence = self.cadence_s
        start_s = math.ceil(start_s / cadence) * cadence
        end_s = start_s + math.ceil(duration / cadence) * cadence
        sign = 1.0 if _unit_int(key, 5) < 0.5 else -1.0
        size = {"spike": 3.0, "variance_change": 0.4, "flatline": 0.0}.get(kind, 1.0)
        magnitude = sign * size * spec.scale * (0.8 + 0.4 * _unit_int(key, 6))
        if kind == "variance_change":
            magnitude = abs(magnitude)
        return InjectedAnomaly(spec.name, kind, _dt(start_s), _dt(end_s), round(magnitude, 6))


def _panel_temperature(phase: NDArray[np.float64], sunlit_s: float) -> NDArray[np.float64]:
    """Periodic steady state of a first-order lag driven by a sun/shadow square wave.

    dT/dt = (T_target - T) / tau with T_target = PANEL_HOT_C in sunlight and PANEL_COLD_C
    in eclipse; ``t_sun0`` is the temperature at eclipse exit that makes the solution
    periodic.
    """
    hot, cold, tau = PANEL_HOT_C, PANEL_COLD_C, PANEL_TAU_S
    a, b = math.exp(-sunlit_s / tau), math.exp(-ECLIPSE_S / tau)
    t_sun0 = (cold * (1 - b) + b * hot * (1 - a)) / (1 - a * b)
    t_shadow0 = hot + (t_sun0 - hot) * a
    sun = hot + (t_sun0 - hot) * np.exp(-phase / tau)
    shadow = cold + (t_shadow0 - cold) * np.exp(-(phase - sunlit_s) / tau)
    return np.where(phase < sunlit_s, sun, shadow)


# --- deterministic randomness ---------------------------------------------------------------


def _stable_hash(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")


def _mix_int(x: int) -> int:
    """SplitMix64 finaliser on a Python int."""
    z = (x + 0x9E3779B97F4A7C15) & _MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
    return z ^ (z >> 31)


def _unit_int(key: int, stream: int) -> float:
    """A uniform number in [0, 1) from ``key`` and a stream number."""
    return (_mix_int(key ^ _mix_int(stream)) >> 11) * 2.0**-53


def _mix(x: NDArray[np.uint64]) -> NDArray[np.uint64]:
    """SplitMix64 finaliser, vectorised (uint64 arithmetic wraps around)."""
    with np.errstate(over="ignore"):
        z = x + _GOLDEN
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def _uniform(key: int, ts_ns: NDArray[np.int64], stream: int) -> NDArray[np.float64]:
    salt = np.uint64(_mix_int(key ^ _mix_int(stream + 1000)))
    bits = _mix(ts_ns.view(np.uint64) ^ salt)
    return (bits >> np.uint64(11)).astype(np.float64) * 2.0**-53


def _normal(key: int, ts_ns: NDArray[np.int64], stream: int) -> NDArray[np.float64]:
    """Standard normal noise keyed by (key, stream, timestamp), by Box-Muller."""
    u1 = _uniform(key, ts_ns, 2 * stream)
    u2 = _uniform(key, ts_ns, 2 * stream + 1)
    return np.sqrt(-2.0 * np.log1p(-u1)) * np.cos(2.0 * np.pi * u2)


# --- time helpers ---------------------------------------------------------------------------


def _check_range(start: datetime, end: datetime) -> tuple[int, int]:
    for name, value in (("start", start), ("end", end)):
        if not isinstance(value, datetime) or value.tzinfo is None:
            raise SimulatorError(
                f"{name} must be a timezone-aware datetime (e.g. tzinfo=UTC); got {value!r}"
            )
    if end < start:
        raise SimulatorError(f"end ({end.isoformat()}) is before start ({start.isoformat()})")
    return _ns(start), _ns(end)


def _ns(value: datetime) -> int:
    return int(pd.Timestamp(value).value)


def _dt(seconds: float) -> datetime:
    return datetime.fromtimestamp(round(seconds, 6), tz=UTC)
