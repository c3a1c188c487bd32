"""Operator annotations of anomalies: writes and reads."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from store.errors import NotFoundError
from store.models import Annotation, AnnotationCreate, Anomaly
from store.queries import get_anomaly
from store.tenancy import scope_session
from store.types import utc_now
from store.vector import NoteDoc

logger = logging.getLogger(__name__)


def add_annotation(session: Session, anomaly_id: int, data: AnnotationCreate) -> Annotation:
    """Store an annotation; a label also becomes the anomaly's status. Not committed."""
    anomaly = session.get(Anomaly, anomaly_id)
    if anomaly is None:
        raise NotFoundError(f"anomaly {anomaly_id} does not exist")

    record = Annotation(
        anomaly_id=anomaly_id, author=data.author, text=data.text, label=data.label
    )
    session.add(record)
    if data.label is not None and anomaly.status != data.label:
        logger.info(
            "anomaly %d status %s -> %s by %s", anomaly_id, anomaly.status, data.label, data.author
        )
        anomaly.status = data.label
        anomaly.updated_at = utc_now()
        session.add(anomaly)
    session.flush()
    return record


def list_annotations(session: Session, anomaly_id: int) -> list[Annotation]:
    """Annotations of one anomaly, oldest first, or `NotFoundError` for an unknown anomaly."""
    if session.get(Anomaly, anomaly_id) is None:
        raise NotFoundError(f"anomaly {anomaly_id} does not exist")
    return annotations_of(session, [anomaly_id])


def annotations_of(session: Session, anomaly_ids: Sequence[int]) -> list[Annotation]:
    """Annotations of any of `anomaly_ids`, oldest first."""
    if not anomaly_ids:
        return []
    return list(
        session.scalars(
            select(Annotation)
            .where(col(Annotation.anomaly_id).in_(list(anomaly_ids)))
            .order_by(col(Annotation.created_at), col(Annotation.id))
        ).all()
    )


def get_annotation(session: Session, annotation_id: int) -> Annotation:
    """One annotation by id, or `NotFoundError`."""
    found = session.get(Annotation, annotation_id)
    if found is None:
        raise NotFoundError(f"annotation {annotation_id} does not exist")
    return found


def all_annotations(session: Session, limit: int = 1000, offset: int = 0) -> list[Annotation]:
    """A page of every annotation, by id (for rebuilding the index)."""
    return list(
        session.scalars(
            select(Annotation).order_by(col(Annotation.id)).offset(offset).limit(limit)
        ).all()
    )


def record_annotation(
    engine: Engine,
    anomaly_id: int,
    data: AnnotationCreate,
    index: Any | None = None,
    tenant: str = "default",
) -> Annotation:
    """Store an annotation (committed), then index it for later explanations.

    The SQL record is the truth: when indexing fails it is logged, and `imon reindex`
    rebuilds the index from SQL.
    """
    with Session(engine, expire_on_commit=False) as session:
        scope_session(session, tenant)
        record = add_annotation(session, anomaly_id, data)
        session.commit()
        view = get_anomaly(session, anomaly_id)
    if index is not None:
        assert record.id is not None
        note = NoteDoc(record.id, view, record.author, record.label, record.text)
        try:
            index.upsert_notes([note], tenant=tenant)
        except Exception:  # the SQL record stands; the index is rebuilt by `imon reindex`
            logger.exception("annotation %d stored but not indexed", record.id)
    logger.info("annotation %s on anomaly %d by %s", record.id, anomaly_id, record.author)
    return record


def note_docs(session: Session, annotations: Sequence[Annotation]) -> list[NoteDoc]:
    """Annotations with their anomalies, ready for `AnomalyIndex.upsert_notes`."""
    docs = []
    for item in annotations:
        assert item.id is not None
        try:
            view = get_anomaly(session, item.anomaly_id)
        except NotFoundError:
            continue
        docs.append(NoteDoc(item.id, view, item.author, item.label, item.text))
    return docs
