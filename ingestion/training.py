"""Training per-channel models from stored history, one run at a time.

``train_channels`` learns a profile (``detection.profile.learn_profile``) for each
selected channel from its stored points and stores it as a new active version
(``store.channel_models``), pruning old versions. At most one training run is in
progress: a lock of the process and a file lock under the writer's home (so also across
processes, e.g. ``imon train`` and a Dagster run); a second request is refused with
`TrainingBusyError`. `ScheduledTraining` retrains the channels whose model is older
than an interval, or missing, and tells the pipeline to rebuild their detectors.
``model_configs`` gives the pipeline the ``DetectorConfig`` of a channel's active model.

Every model records its *reference* (``params["reference"]``, see
``store.channel_models``): the training range, or the normal range an operator vouched
for, without the stretches covered by stored anomalies not marked ``false_positive``,
and at most the newest ``reference_points`` points the detector keeps.
``model_references`` reads those points back for the pipeline, which hands them to the
channel's detector (``ChannelDetector.set_reference``).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from filelock import FileLock, Timeout
from numpy.typing import NDArray
from sqlalchemy.engine import Engine
from sqlmodel import Session

from detection import DetectorConfig
from detection.profile import detector_config, learn_profile
from ingestion.errors import IngestionError
from store import channel_models, queries
from store.tenancy import scope_session

logger = logging.getLogger(__name__)

TRAINING_LOCK = "training.lock"
#: Newest points of a channel a model is trained on, points.
MAX_TRAINING_POINTS = 50_000
#: Most points of a reference, the most the detector keeps (``reference_points``), points.
MAX_REFERENCE_POINTS = DetectorConfig().reference_points
#: Held while a training run is in progress in this process.
_RUNNING = threading.Lock()


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


@contextmanager
def training_lock(lock_dir: Path) -> Iterator[None]:
    """Hold the training lock of this process and of `lock_dir`; refuse when taken."""
    if not _RUNNING.acquire(blocking=False):
        raise TrainingBusyError(
            "a training run is already in progress in this process; "
            "wait for it to finish and ask again"
        )
    try:
        lock_dir.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(lock_dir / TRAINING_LOCK))
        try:
            lock.acquire(timeout=0)
        except Timeout:
            raise TrainingBusyError(
                f"another training run holds {lock_dir / TRAINING_LOCK}; wait for it to finish"
            ) from None
        try:
            yield
        finally:
            lock.release()
    finally:
        _RUNNING.release()


def train_channels(
    engine: Engine,
    lock_dir: Path,
    *,
    satellite: str | None = None,
    channel: str | None = None,
    channel_id: int | None = None,
    tenant: str | None = None,
    stale_before: datetime | None = None,
    keep: int = 5,
    normal_range: tuple[datetime, datetime] | None = None,
) -> list[TrainResult]:
    """Train every matching channel; raise `TrainingBusyError` if a run is in progress.

    `tenant` limits the run to that tenant's channels; `stale_before` to channels
    without a model or whose active model was trained before that time. `normal_range`
    (start, end), checked by :func:`check_normal_range`, trains on that range only and
    records it as the reference an operator vouched for as normal; without it, the
    newest stored history is the (unvouched) reference.
    """
    if normal_range is not None:
        normal_range = check_normal_range(*normal_range)
    with training_lock(lock_dir):
        views = _selected(engine, satellite, channel, channel_id, tenant, stale_before)
        return [_train_one(engine, v, keep, normal_range) for v in views]


def check_normal_range(
    start: datetime | None, end: datetime | None
) -> tuple[datetime, datetime] | None:
    """The operator's normal range as (start, end) in UTC, None when neither is given.

    Raises ValueError naming ``reference_start`` or ``reference_end`` when only one is
    given, one has no timezone, or the start is not before the end.
    """
    if start is None and end is None:
        return None
    if start is None or end is None:
        missing = "reference_start" if start is None else "reference_end"
        raise ValueError(f"{missing} is missing: give both ends of the normal range")
    for name, value in (("reference_start", start), ("reference_end", end)):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(
                f"{name}={value.isoformat()} has no timezone; add Z or an offset such as +00:00"
            )
    if start >= end:
        raise ValueError(
            f"reference_start={start.isoformat()} is not before "
            f"reference_end={end.isoformat()}; swap them"
        )
    utc = pd.Timestamp(start).tz_convert("UTC"), pd.Timestamp(end).tz_convert("UTC")
    return utc[0].to_pydatetime(), utc[1].to_pydatetime()


def _selected(
    engine: Engine,
    satellite: str | None,
    channel: str | None,
    channel_id: int | None,
    tenant: str | None,
    stale_before: datetime | None,
) -> list[queries.ChannelView]:
    with Session(engine) as session:
        scoped = scope_session(session, tenant) if tenant is not None else session
        views = [
            v
            for v in queries.list_channels(scoped, satellite)
            if (channel is None or v.name == channel) and (channel_id in (None, v.id))
        ]
        if stale_before is None:
            return views
        models = channel_models.active_models(scoped, [v.id for v in views])
    return [v for v in views if v.id not in models or models[v.id].created_at < stale_before]


class ScheduledTraining:
    """A worker job: retrain channels whose model is older than `max_age`, or missing.

    After a run, `on_trained` gets the ids of the channels that have a new model (the
    pipeline's `forget_detectors`, so that detection continues with the new version).
    """

    def __init__(
        self,
        engine: Engine,
        lock_dir: Path,
        max_age: timedelta,
        keep: int = 5,
        on_trained: Callable[[list[int]], object] | None = None,
    ) -> None:
        if max_age <= timedelta(0):
            raise ValueError(f"max_age must be positive, got {max_age}; 0 means no schedule")
        self.engine = engine
        self.lock_dir = lock_dir
        self.max_age = max_age
        self.keep = keep
        self.on_trained = on_trained

    def __call__(self, now: datetime) -> list[TrainResult]:
        """Retrain what is due at `now`; a run already in progress skips this one."""
        try:
            results = train_channels(
                self.engine, self.lock_dir, stale_before=now - self.max_age, keep=self.keep
            )
        except TrainingBusyError as error:
            logger.info("scheduled training skipped: %s", error)
            return []
        trained = [r.channel_id for r in results if r.version is not None]
        if trained and self.on_trained is not None:
            self.on_trained(trained)
        if results:
            logger.info(
                "scheduled training: %d channels retrained, %d not trainable",
                len(trained),
                len(results) - len(trained),
            )
        return results


def _train_one(
    engine: Engine,
    view: queries.ChannelView,
    keep: int,
    normal_range: tuple[datetime, datetime] | None,
) -> TrainResult:
    if normal_range is None:
        normal_range = _vouched_range(engine, view.id)
    start, end = normal_range or (None, None)
    with Session(engine) as session:
        frame = queries.channel_points(
            session, view.id, start=start, end=end, limit=MAX_TRAINING_POINTS, latest=True
        )
    if normal_range is not None and frame.empty:
        error = (
            f"no stored points between reference_start={_iso(normal_range[0])} and "
            f"reference_end={_iso(normal_range[1])}"
        )
        logger.info("channel %s/%s not trained: %s", view.satellite, view.name, error)
        return TrainResult(view.id, view.satellite, view.name, None, None, None, error)
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
        params[channel_models.REFERENCE_KEY] = _reference(
            session, view.id, frame["ts"], vouched=normal_range is not None
        )
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


def _vouched_range(engine: Engine, channel_id: int) -> tuple[datetime, datetime] | None:
    """The normal range an operator vouched for in the channel's current model, if any.

    A retraining without a range of its own (scheduled, or `imon train` alone) keeps
    it, so an operator's choice is not replaced by whatever history came last.
    """
    with Session(engine) as session:
        reference = channel_models.reference_of(channel_models.active_model(session, channel_id))
    if not reference or not reference.get("vouched"):
        return None
    return (
        pd.Timestamp(reference["start"]).to_pydatetime(),
        pd.Timestamp(reference["end"]).to_pydatetime(),
    )


def _iso(value: datetime | pd.Timestamp) -> str:
    """ISO 8601 in UTC with Z."""
    return pd.Timestamp(value).tz_convert("UTC").isoformat().replace("+00:00", "Z")


def _outside(
    stamps: pd.Series, stretches: Sequence[tuple[datetime, datetime]]
) -> NDArray[np.bool_]:
    """Which of `stamps` lie outside every (start, end) stretch, ends included."""
    keep = np.ones(len(stamps), dtype=bool)
    for first, last in stretches:
        keep &= ~((stamps >= pd.Timestamp(first)) & (stamps <= pd.Timestamp(last))).to_numpy()
    return keep


def _reference(
    session: Session, channel_id: int, stamps: pd.Series, *, vouched: bool
) -> dict[str, Any] | None:
    """The reference record of a model trained on points at `stamps` (UTC, in order)."""
    if stamps.empty:
        return None
    first, last = stamps.iloc[0].to_pydatetime(), stamps.iloc[-1].to_pydatetime()
    stretches = channel_models.anomalous_stretches(session, channel_id, first, last)
    kept = stamps[_outside(stamps, stretches)].iloc[-MAX_REFERENCE_POINTS:]
    if kept.empty:
        logger.info(
            "channel %d: anomalies cover its whole training range; no reference", channel_id
        )
        return None
    return {
        "start": _iso(kept.iloc[0]),
        "end": _iso(kept.iloc[-1]),
        "vouched": vouched,
        "points": len(kept),
        "excluded": [[_iso(a), _iso(b)] for a, b in stretches if pd.Timestamp(b) >= kept.iloc[0]],
    }


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


def model_references(engine: Engine) -> Callable[[int], NDArray[np.float64] | None]:
    """``reference_for(channel_id)``: the active model's reference values, None without one.

    The points of the recorded reference range are read from the store, without its
    excluded stretches; points purged since training (retention) are missing from it.
    """

    def reference_for(channel_id: int) -> NDArray[np.float64] | None:
        with Session(engine) as session:
            model = channel_models.active_model(session, channel_id)
            record = channel_models.reference_of(model)
            if record is None:
                return None
            try:
                start, end = pd.Timestamp(record["start"]), pd.Timestamp(record["end"])
                excluded = [(pd.Timestamp(a), pd.Timestamp(b)) for a, b in record["excluded"]]
                wanted = int(record["points"])
            except (KeyError, TypeError, ValueError) as error:
                logger.warning(
                    "reference of channel %d's model is unusable (%s); none used",
                    channel_id,
                    error,
                )
                return None
            frame = queries.channel_points(
                session, channel_id, start=start.to_pydatetime(), end=end.to_pydatetime()
            )
        values = frame["value"].to_numpy(float)[_outside(frame["ts"], excluded)][-wanted:]
        if values.size < wanted:
            logger.info(
                "channel %d: %d of the %d reference points are still stored",
                channel_id,
                values.size,
                wanted,
            )
        return values if values.size else None

    return reference_for
