"""Training per-channel models from stored history, one run at a time.

``train_channels`` learns a profile (``detection.profile.learn_profile``) for each
selected channel from its stored points and stores it as a new active version
(``store.channel_models``), pruning old versions. A file lock under the writer's home
keeps two training runs from overlapping. ``model_configs`` gives the pipeline the
``DetectorConfig`` of a channel's active model.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from filelock import FileLock, Timeout
from sqlalchemy.engine import Engine
from sqlmodel import Session

from detection import DetectorConfig
from detection.profile import detector_config, learn_profile
from ingestion.errors import IngestionError
from store import channel_models, queries

logger = logging.getLogger(__name__)

TRAINING_LOCK = "training.lock"
#: Newest points of a channel a model is trained on, points.
MAX_TRAINING_POINTS = 50_000


class TrainingBusyError(IngestionError):
    """Another training run holds the training lock."""


@dataclass(frozen=True)
class TrainResult:
    """The outcome of training one channel."""

    channel_id: int
    satellite: str
    channel: str
    version: int | None
    params: dict[str, Any] | None
    quality: dict[str, Any] | None
    error: str | None = None


def train_channels(
    engine: Engine,
    lock_dir: Path,
    *,
    satellite: str | None = None,
    channel: str | None = None,
    keep: int = 5,
) -> list[TrainResult]:
    """Train every matching channel; raise `TrainingBusyError` if a run is in progress."""
    lock = FileLock(str(lock_dir / TRAINING_LOCK))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise TrainingBusyError(
            f"another training run holds {lock_dir / TRAINING_LOCK}; wait for it to finish"
        ) from None
    try:
        with Session(engine) as session:
            views = [
                v
                for v in queries.list_channels(session, satellite)
                if channel is None or v.name == channel
            ]
        return [_train_one(engine, v, keep) for v in views]
    finally:
        lock.release()


def _train_one(engine: Engine, view: queries.ChannelView, keep: int) -> TrainResult:
    with Session(engine) as session:
        frame = queries.channel_points(session, view.id, limit=MAX_TRAINING_POINTS, latest=True)
    ts = frame["ts"].dt.tz_convert("UTC").dt.tz_localize(None).to_numpy("datetime64[ns]")
    try:
        learned = learn_profile(ts.view("int64"), frame["value"].to_numpy(float))
    except ValueError as error:
        logger.info("channel %s/%s not trained: %s", view.satellite, view.name, error)
        return TrainResult(view.id, view.satellite, view.name, None, None, None, str(error))

    span = (
        pd.Timestamp(learned["training_start_ns"], tz="UTC").to_pydatetime(),
        pd.Timestamp(learned["training_end_ns"], tz="UTC").to_pydatetime(),
    )
    params, quality = _plain(learned["params"]), _plain(learned["quality"])
    with Session(engine) as session:
        record = channel_models.add_version(session, view.id, params, quality, span, keep)
        version = record.version
        session.commit()
    logger.info(
        "trained %s/%s: version %d, period %s, m %d",
        view.satellite,
        view.name,
        version,
        params["period"],
        params["m"],
    )
    return TrainResult(view.id, view.satellite, view.name, version, params, quality)


def _plain(value: Any) -> Any:
    """JSON-storable values: numpy scalars to Python, non-finite floats to None."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def model_configs(engine: Engine, base: DetectorConfig) -> Callable[[int], DetectorConfig | None]:
    """``config_for(channel_id)``: the active model's DetectorConfig, None without one."""

    def config_for(channel_id: int) -> DetectorConfig | None:
        with Session(engine) as session:
            model = channel_models.active_model(session, channel_id)
        if model is None:
            return None
        try:
            return detector_config(model.params, base)
        except (KeyError, TypeError, ValueError) as error:
            logger.warning(
                "model v%d of channel %d is unusable (%s); using defaults",
                model.version,
                channel_id,
                error,
            )
            return None

    return config_for
