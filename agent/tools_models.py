"""Tools on per-channel models and forecasts: what a channel is configured with, and
where it is heading (trend plus periodic pattern, with a prediction interval)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from sqlmodel import Session

from agent import catalog
from agent._common import json_ready, one_channel
from agent.context import ToolContext
from agent.errors import InvalidArgumentError
from detection import DetectorConfig
from detection.forecast import crossing, regularise
from detection.forecast import forecast as fit_forecast
from detection.profile import learn_period
from store import channel_models, queries
from store.vector import iso_z

#: Newest points of a channel a forecast is fitted on, points.
FORECAST_HISTORY_POINTS = 20_000
#: Steps of one forecast at most; longer horizons aggregate the history, steps.
FORECAST_STEPS = 200
#: Fewest stored points a forecast needs, points.
MIN_FORECAST_POINTS = 60


def channel_model(
    ctx: ToolContext,
    channel: str | None = None,
    satellite: str | None = None,
    channel_id: int | None = None,
) -> dict[str, Any]:
    """The model a channel is detected with: the active trained version, or the defaults.

    Returns ``{satellite, channel, channel_id, trained, version, created_at,
    training_start, training_end, reference, params, quality, limits, versions: [{version,
    created_at, active}], defaults}``; dates ISO 8601 UTC with Z, null when untrained.
    ``reference`` is the known-normal history new data is compared with: ``{start, end,
    points, vouched, excluded: [[start, end]]}``, null without one.
    """
    with Session(ctx.engine) as session:
        entry = one_channel(catalog.catalog(session, ctx.tenant), channel, satellite, channel_id)
        stored = channel_models.versions(session, entry.channel_id)
        limits = channel_models.limits_of(session, entry.channel_id)
    active = next((v for v in stored if v.active), None)
    base = ctx.detector_config if isinstance(ctx.detector_config, DetectorConfig) else None
    defaults = base or DetectorConfig()
    return json_ready(
        {
            "satellite": entry.satellite,
            "channel": entry.channel,
            "channel_id": entry.channel_id,
            "unit": entry.unit,
            "trained": active is not None,
            "version": active.version if active else None,
            "created_at": active.created_at if active else None,
            "training_start": active.training_start if active else None,
            "training_end": active.training_end if active else None,
            "reference": channel_models.reference_of(active),
            "params": active.params if active else None,
            "quality": active.quality if active else None,
            "limits": limits,
            "versions": [
                {"version": v.version, "created_at": v.created_at, "active": v.active}
                for v in stored
            ],
            "defaults": {"m": defaults.m, "window": defaults.window, "warmup": defaults.warmup},
        }
    )


def forecast(
    ctx: ToolContext,
    channel: str | None = None,
    horizon: str = "7d",
    satellite: str | None = None,
    channel_id: int | None = None,
    threshold: float | None = None,
    direction: str | None = None,
    level: float = 0.9,
) -> dict[str, Any]:
    """Forecast a channel ``horizon`` ahead of its newest point, with a prediction interval.

    ``horizon`` is a duration ("6h", "7d"); it is capped at the span of the stored
    history. With ``threshold`` (and ``direction`` "below"/"above", guessed from the
    last value when omitted) or with the channel's limits, ``crossings`` gives for each
    the earliest (interval's near bound), expected (mean) and latest (far bound) times
    it is crossed, null when not within the horizon. Returns ``{satellite, channel,
    unit, last_ts, last_value, horizon_end, horizon_capped, step_s, period_steps, level,
    forecast: [{ts, mean, lower, upper}], limits, crossings: [...]}``.
    """
    wanted = _horizon(horizon)
    if direction not in (None, "below", "above"):
        raise InvalidArgumentError(f"direction={direction!r} is not one of below, above")
    with Session(ctx.engine) as session:
        entry = one_channel(catalog.catalog(session, ctx.tenant), channel, satellite, channel_id)
        frame = queries.channel_points(
            session, entry.channel_id, limit=FORECAST_HISTORY_POINTS, latest=True
        )
        model = channel_models.active_model(session, entry.channel_id)
        limits = channel_models.limits_of(session, entry.channel_id)
    if len(frame) < MIN_FORECAST_POINTS:
        raise InvalidArgumentError(
            f"{entry.satellite}/{entry.channel} has {len(frame)} stored points; a forecast "
            f"needs at least {MIN_FORECAST_POINTS}"
        )

    ts = frame["ts"].dt.tz_convert("UTC").dt.tz_localize(None).to_numpy("datetime64[ns]")
    ts_ns, values = ts.view("int64"), frame["value"].to_numpy(float)
    span = pd.Timedelta(int(ts_ns[-1] - ts_ns[0]), "ns")
    capped = wanted > span
    reach = min(wanted, span)
    cadence = int(np.median(np.diff(ts_ns)))
    step = max(cadence, math.ceil(reach.value / FORECAST_STEPS))
    grid_ts, grid = regularise(ts_ns, values, step)
    steps = max(1, min(FORECAST_STEPS, round(reach.value / step)))
    period = _period_steps(model.params if model else None, grid, step)
    result = fit_forecast(grid_ts, grid, steps, period=period, level=level)

    checks: list[tuple[float, str, str]] = []
    if threshold is not None:
        side = direction or ("below" if threshold < values[-1] else "above")
        checks.append((float(threshold), side, "asked"))
    elif limits:
        if limits.get("low") is not None:
            checks.append((float(limits["low"]), "below", f"{limits['source']} low limit"))
        if limits.get("high") is not None:
            checks.append((float(limits["high"]), "above", f"{limits['source']} high limit"))
    crossings = []
    for value, side, why in checks:
        found = crossing(result, value, side)
        crossings.append(
            {
                "threshold": value,
                "direction": side,
                "why": why,
                "earliest": _iso(found.earliest_ns),
                "expected": _iso(found.mean_ns),
                "latest": _iso(found.latest_ns),
            }
        )
    return json_ready(
        {
            "satellite": entry.satellite,
            "channel": entry.channel,
            "channel_id": entry.channel_id,
            "unit": entry.unit,
            "last_ts": _iso(int(ts_ns[-1])),
            "last_value": float(values[-1]),
            "horizon_end": _iso(int(result.ts[-1])),
            "horizon_capped": bool(capped),
            "step_s": step / 1e9,
            "period_steps": result.period,
            "level": level,
            "method": "STL + ARIMA(1,1,1)" if result.period else "ARIMA(1,1,1)",
            "forecast": [
                {"ts": _iso(int(t)), "mean": m, "lower": lo, "upper": hi}
                for t, m, lo, hi in zip(
                    result.ts.tolist(),
                    result.mean.tolist(),
                    result.lower.tolist(),
                    result.upper.tolist(),
                    strict=True,
                )
            ],
            "limits": limits,
            "crossings": crossings,
        }
    )


def _horizon(text: str) -> pd.Timedelta:
    try:
        value = pd.Timedelta(str(text).strip())
    except ValueError:
        raise InvalidArgumentError(
            f"horizon={text!r} is not a duration; pass e.g. '6h', '7d' or '30d'"
        ) from None
    if value <= pd.Timedelta(0):
        raise InvalidArgumentError(f"horizon={text!r} must be positive")
    return value


def _period_steps(params: dict[str, Any] | None, grid: np.ndarray, step_ns: int) -> int | None:
    """The learned period in forecast steps, else the period of the aggregated history."""
    if params and params.get("period") and params.get("cadence_s"):
        steps = round(float(params["period"]) * float(params["cadence_s"]) * 1e9 / step_ns)
        return steps if steps >= 2 else None
    return learn_period(grid) if grid.size >= 16 else None


def _iso(ns: int | None) -> str | None:
    if ns is None:
        return None
    return iso_z(pd.Timestamp(ns, tz="UTC").to_pydatetime())
