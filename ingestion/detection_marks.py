"""Per-channel detection bookkeeping kept in the checkpoint table, so it survives a crash.

Rows are ``(source, str(channel id), last_ts)``:

- ``#detected``: the anomalies of every point up to ``last_ts`` are committed (written in
  the same transaction as those anomalies);
- ``#queued``: the newest point stored for background detection (written with the points);
- ``#recheck-from`` / ``#recheck-to``: stored points at or before what detection had
  already read (late points, corrected values) that must be re-checked in their window.

A channel whose ``#queued`` is after its ``#detected``, or that has a re-check pending,
still owes detection: the background stage finds those at start-up.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, insert, tuple_, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from store import repository
from store.models import Checkpoint, Point

DETECTED_SOURCE = "#detected"
QUEUED_SOURCE = "#queued"
RECHECK_FROM = "#recheck-from"
RECHECK_TO = "#recheck-to"


@dataclass(frozen=True)
class Recheck:
    """Stored points of a channel in [first, last] to detect again in their window."""

    first: datetime
    last: datetime


def advance_checkpoints(session: Session, marks: dict[tuple[str, str], datetime]) -> None:
    """Move the (source, channel) checkpoints forward to their new times, inserting the
    missing ones, in one read and one write each (not committed here); never backwards."""
    if not marks:
        return
    rows = session.execute(
        select(col(Checkpoint.source), col(Checkpoint.channel), col(Checkpoint.last_ts)).where(
            tuple_(col(Checkpoint.source), col(Checkpoint.channel)).in_(list(marks))
        )
    ).all()
    found: dict[tuple[str, str], datetime] = {(row[0], row[1]): row[2] for row in rows}
    new = [
        {"source": source, "channel": channel, "last_ts": ts}
        for (source, channel), ts in marks.items()
        if (source, channel) not in found
    ]
    moved = [
        {"source": source, "channel": channel, "last_ts": ts}
        for (source, channel), ts in marks.items()
        if (source, channel) in found and ts > found[(source, channel)]
    ]
    if new:
        session.execute(insert(Checkpoint), new)
    if moved:
        session.execute(update(Checkpoint), moved)


def detected_until(session: Session, channel_ids: list[int]) -> dict[int, datetime]:
    """The ``#detected`` checkpoints of the channels that have one."""
    rows = session.execute(
        select(col(Checkpoint.channel), col(Checkpoint.last_ts)).where(
            col(Checkpoint.source) == DETECTED_SOURCE,
            col(Checkpoint.channel).in_([str(i) for i in channel_ids]),
        )
    ).all()
    return {int(row[0]): row[1] for row in rows}


def mark_recheck(session: Session, channel_id: int, first: datetime, last: datetime) -> None:
    """Widen the channel's pending re-check to cover [first, last] (not committed here)."""
    key = str(channel_id)
    found = session.get(Checkpoint, (RECHECK_FROM, key))
    if found is None:
        session.add(Checkpoint(source=RECHECK_FROM, channel=key, last_ts=first))
    elif first < found.last_ts:
        found.last_ts = first
        session.add(found)
    repository.save_checkpoint(session, RECHECK_TO, key, last)


def read_recheck(session: Session, channel_id: int) -> Recheck | None:
    """The channel's pending re-check, if any."""
    first = repository.get_checkpoint(session, RECHECK_FROM, str(channel_id))
    last = repository.get_checkpoint(session, RECHECK_TO, str(channel_id))
    if first is None or last is None:
        return None
    return Recheck(first, last)


def clear_recheck(engine: Engine, channel_id: int, done: Recheck) -> None:
    """Drop the re-check marks once `done` is committed, unless a push widened them since."""
    key = str(channel_id)
    with Session(engine) as session:
        for source, value in ((RECHECK_FROM, done.first), (RECHECK_TO, done.last)):
            found = session.get(Checkpoint, (source, key))
            if found is not None and found.last_ts != value:
                return
        session.execute(
            delete(Checkpoint).where(
                col(Checkpoint.source).in_([RECHECK_FROM, RECHECK_TO]),
                col(Checkpoint.channel) == key,
            )
        )
        session.commit()


def owed_channels(engine: Engine) -> list[int]:
    """Channels whose queued points or re-checks are not detected yet (after a restart)."""
    marks: dict[str, dict[str, datetime]] = {}
    with Session(engine) as session:
        rows = session.exec(
            select(Checkpoint).where(
                col(Checkpoint.source).in_(
                    [DETECTED_SOURCE, QUEUED_SOURCE, RECHECK_FROM, RECHECK_TO]
                )
            )
        ).all()
        for row in rows:
            marks.setdefault(row.channel, {})[row.source] = row.last_ts
    owed = []
    for key, found in marks.items():
        queued, detected = found.get(QUEUED_SOURCE), found.get(DETECTED_SOURCE)
        behind = queued is not None and (detected is None or queued > detected)
        if (behind or RECHECK_FROM in found) and key.isdigit():
            owed.append(int(key))
    return sorted(owed)


def detection_lag(engine: Engine) -> dict[int, float]:
    """Per channel with queued points: seconds of data (newest queued point minus newest
    detected one) not detected yet; a channel never detected counts from its first point."""
    with Session(engine) as session:
        rows = session.exec(
            select(Checkpoint).where(col(Checkpoint.source).in_([DETECTED_SOURCE, QUEUED_SOURCE]))
        ).all()
        queued = {r.channel: r.last_ts for r in rows if r.source == QUEUED_SOURCE}
        detected = {r.channel: r.last_ts for r in rows if r.source == DETECTED_SOURCE}
        lags = {}
        for key, last in queued.items():
            if not key.isdigit():
                continue
            done = detected.get(key)
            if done is None:
                first = session.exec(
                    select(Point.ts)
                    .where(col(Point.channel_id) == int(key))
                    .order_by(col(Point.ts))
                    .limit(1)
                ).first()
                lags[int(key)] = 0.0 if first is None else (last - first).total_seconds()
            else:
                lags[int(key)] = max(0.0, (last - done).total_seconds())
    return lags
