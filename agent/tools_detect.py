"""The detection tool: run the batch detectors over stored points on demand."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
from sqlmodel import Session

from agent import catalog
from agent._common import json_ready, one_channel, parse_time
from agent.context import ToolContext
from agent.errors import DetectionUnavailableError, InvalidArgumentError
from store import queries
from store.vector import iso_z

logger = logging.getLogger(__name__)

#: At most this many points (the newest of the range) are scanned by one call.
MAX_DETECT_POINTS = 200_000
#: Points before ``start`` handed to the detectors as history, when no config says more.
DEFAULT_HISTORY_POINTS = 2_000


def detect(
    ctx: ToolContext,
    channel: str | None = None,
    satellite: str | None = None,
    start: str | datetime | None = None,
    end: str | datetime | None = None,
    channel_id: int | None = None,
) -> dict[str, Any]:
    """Run the detectors over a channel's stored points in ``[start, end]``.

    The points before ``start`` (one detector window) are given as history so the
    first points of the range are judged against the channel's past. The anomalies
    found are returned, not written to the store. The first call in a process
    compiles the matrix-profile code (about 30 s).
    """
    lower, upper = parse_time(start, "start"), parse_time(end, "end")
    if lower is not None and upper is not None and lower > upper:
        raise InvalidArgumentError(f"start {iso_z(lower)} is after end {iso_z(upper)}")

    with Session(ctx.engine) as session:
        entry = one_channel(catalog.catalog(session, ctx.tenant), channel, satellite, channel_id)
        frame = queries.channel_points(
            session, entry.channel_id, lower, upper, limit=MAX_DETECT_POINTS, latest=True
        )
        history = None
        if lower is not None and len(frame):
            window = int(getattr(ctx.detector_config, "window", DEFAULT_HISTORY_POINTS))
            before = queries.channel_points(
                session, entry.channel_id, None, lower, limit=window + 1, latest=True
            )
            before = before[before["ts"] < frame["ts"].iloc[0]]
            history = (_ns(before["ts"]), before["value"].to_numpy(dtype=np.float64))

    found: list[Any] = []
    if len(frame):
        # imported here: detection compiles numba kernels, which questions must not pay
        try:
            from detection import detect_series
        except ImportError as exc:
            raise DetectionUnavailableError(
                f"on-demand detection is not available in this installation: {exc}"
            ) from exc

        found = detect_series(
            _ns(frame["ts"]),
            frame["value"].to_numpy(dtype=np.float64),
            config=ctx.detector_config,
            history=history if history is not None and len(history[0]) else None,
        )
    logger.info(
        "on-demand detection on %s/%s: %d points, %d anomalies",
        entry.satellite,
        entry.channel,
        len(frame),
        len(found),
    )

    return {
        "satellite": entry.satellite,
        "channel": entry.channel,
        "channel_id": entry.channel_id,
        "start": None if lower is None else iso_z(lower),
        "end": None if upper is None else iso_z(upper),
        "points": len(frame),
        "truncated": len(frame) >= MAX_DETECT_POINTS,
        "first": iso_z(frame["ts"].iloc[0].to_pydatetime()) if len(frame) else None,
        "last": iso_z(frame["ts"].iloc[-1].to_pydatetime()) if len(frame) else None,
        "anomalies": [_detected_dict(a) for a in found],
    }


def _ns(ts: pd.Series) -> np.ndarray:
    naive = pd.to_datetime(ts, utc=True).dt.tz_localize(None)
    return naive.to_numpy(dtype="datetime64[ns]").astype(np.int64)


def _detected_dict(anomaly: Any) -> dict[str, Any]:
    return {
        "detector": anomaly.detector,
        "kind": anomaly.kind,
        "start": iso_z(pd.Timestamp(anomaly.start).tz_convert("UTC").to_pydatetime()),
        "end": iso_z(pd.Timestamp(anomaly.end).tz_convert("UTC").to_pydatetime()),
        "ongoing": bool(anomaly.ongoing),
        "score": json_ready(anomaly.score),
        "severity": anomaly.severity,
        "params": json_ready(anomaly.params),
    }
