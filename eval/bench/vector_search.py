"""Benchmark 6: vector search latency and index build time at 100,000 anomalies.

The index is ``store.vector.AnomalyIndex`` (Chroma, HNSW, cosine) fed through its own
``upsert``. The real MiniLM embedder (``store.vector.Embedder``) embeds ``embedded``
distinct anomaly descriptions; on this machine it costs tens of milliseconds a text, so
the other index entries carry those real embeddings plus a small random perturbation
(renormalised), each with its own id, text and metadata. The embedding time of all
entries is extrapolated from the measured rate and reported apart from Chroma's insert.

Baselines: brute-force cosine similarity in numpy over the same matrix (search, recall
and "build"), and embedding one text at a time (against batches). The tenant-scoped
search (``AnomalyIndex.similar``, query embedding given) runs for a tenant owning 99 % of
the entries and one owning 1 %, against Chroma's query with the ``tenant`` metadata
filter, which was the path before.
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from eval.bench.common import BenchResult, Figure, percentile, ratio
from store.queries import AnomalyView
from store.vector import AnomalyIndex, Embedder, describe_anomaly

logger = logging.getLogger(__name__)

NAME = "vector"
KINDS = ("spike", "level_shift", "variance_change", "trend_change", "flatline", "pattern")
SEVERITIES = ("low", "medium", "high", "critical")
TOP_K = 5
NOISE = 0.02
#: every SMALL_EVERY-th entry belongs to the small tenant, the others to the big one
SMALL_EVERY = 100
TENANTS = ("default", "small")


@dataclass(frozen=True)
class VectorSizes:
    """Index entries, texts really embedded, queries, texts embedded one at a time."""

    anomalies: int = 100_000
    embedded: int = 2_000
    queries: int = 50
    single_texts: int = 30


def anomalies(count: int, seed: int = 0) -> list[AnomalyView]:
    """``count`` distinct anomaly records over 4 satellites and 100 channels."""
    rng = np.random.default_rng(seed)
    origin = datetime(2026, 1, 1, tzinfo=UTC)
    out = []
    for n in range(count):
        start = origin + timedelta(seconds=int(rng.integers(0, 90 * 86400)))
        out.append(
            AnomalyView(
                id=n + 1,
                satellite=f"SAT-{n % 4 + 1}",
                channel=f"ch_{(n // 4) % 25:03d}",
                channel_id=n % 100 + 1,
                start=start,
                end=start + timedelta(minutes=int(rng.integers(1, 240))),
                ongoing=bool(n % 50 == 0),
                kind=KINDS[int(rng.integers(0, len(KINDS)))],
                severity=SEVERITIES[int(rng.integers(0, len(SEVERITIES)))],
                score=float(rng.uniform(5, 50)),
                detector="matrix_profile",
                status="open",
                params={"magnitude": float(rng.uniform(3, 30))},
            )
        )
    return out


class _Lookup(Embedder):
    """Hands out precomputed embeddings by text; other texts go to the real embedder."""

    def __init__(self, texts: list[str], matrix: np.ndarray, real: Embedder) -> None:
        super().__init__()
        self._rows = {text: n for n, text in enumerate(texts)}
        self._matrix = matrix
        self._real = real

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        if all(text in self._rows for text in texts):
            picked = self._matrix[[self._rows[text] for text in texts]]
            return [row.tolist() for row in picked]
        return self._real.embed(texts)


def run(sizes: VectorSizes = VectorSizes(), embedder: Embedder | None = None) -> BenchResult:
    """Embed, build the index, search it, and compare with brute force."""
    result = BenchResult(NAME, "Vector search (Chroma AnomalyIndex, MiniLM embedder)")
    result.sizes = {
        "index entries": sizes.anomalies,
        "texts embedded by MiniLM": sizes.embedded,
        "queries": sizes.queries,
        "top k": TOP_K,
    }
    begin = time.perf_counter()
    embedder = embedder or Embedder()
    embedder.embed(["warm-up"])
    records = anomalies(sizes.anomalies)
    texts = [describe_anomaly(a) for a in records]

    # embedding: batches against one text at a time
    started = time.perf_counter()
    real = np.asarray(embedder.embed(texts[: sizes.embedded]), dtype=np.float32)
    batch_s = (time.perf_counter() - started) / sizes.embedded
    started = time.perf_counter()
    for text in texts[: sizes.single_texts]:
        embedder.embed([text])
    single_s = (time.perf_counter() - started) / sizes.single_texts
    result.add(
        Figure(
            NAME,
            "embedding, batches of 64",
            batch_s * 1e3,
            "ms/text",
            "one text a call",
            single_s * 1e3,
            ratio(single_s, batch_s),
            note=f"{sizes.anomalies:,} texts would take {batch_s * sizes.anomalies / 60:.0f} min",
        )
    )

    matrix = _spread(real, sizes.anomalies)
    with tempfile.TemporaryDirectory(prefix="imon-bench-vector-") as tmp:
        lookup = _Lookup(texts, matrix, embedder)
        started = time.perf_counter()
        index = AnomalyIndex(Path(tmp), lookup)
        small = [a for a in records if a.id % SMALL_EVERY == 0]
        index.upsert([a for a in records if a.id % SMALL_EVERY != 0], tenant=TENANTS[0])
        index.upsert(small, tenant=TENANTS[1])
        build_s = time.perf_counter() - started
        started = time.perf_counter()
        brute = matrix / np.linalg.norm(matrix, axis=1, keepdims=True)
        brute_build_s = time.perf_counter() - started
        result.add(
            Figure(
                NAME,
                f"index build, {sizes.anomalies:,} anomalies (Chroma insert, embeddings given)",
                build_s,
                "s",
                "brute force: normalise the matrix",
                brute_build_s,
                ratio(brute_build_s, build_s),
                note=f"plus embedding: about {batch_s * sizes.anomalies:.0f} s at the "
                "measured batch rate",
            )
        )
        _search(result, index, embedder, brute, texts, sizes)
        _tenant_search(result, index, brute, texts, sizes)
    result.seconds = time.perf_counter() - begin
    return result


def _spread(real: np.ndarray, count: int) -> np.ndarray:
    """``count`` unit vectors: the real ones, then perturbed copies of them."""
    rng = np.random.default_rng(1)
    picks = np.arange(count) % real.shape[0]
    matrix = real[picks] + rng.normal(0.0, NOISE, (count, real.shape[1])).astype(np.float32)
    matrix[: real.shape[0]] = real
    return np.asarray(matrix / np.linalg.norm(matrix, axis=1, keepdims=True), dtype=np.float32)


def _search(
    result: BenchResult,
    index: AnomalyIndex,
    embedder: Embedder,
    brute: np.ndarray,
    texts: list[str],
    sizes: VectorSizes,
) -> None:
    rng = np.random.default_rng(2)
    questions = [texts[int(i)] + " again" for i in rng.integers(0, sizes.embedded, sizes.queries)]
    vectors = np.asarray(embedder.embed(questions), dtype=np.float32)
    collection = index._collection
    chroma_ms, brute_ms, recalls = [], [], []
    for query in vectors:
        started = time.perf_counter()
        found = collection.query(query_embeddings=[query.tolist()], n_results=TOP_K)
        chroma_ms.append((time.perf_counter() - started) * 1e3)
        started = time.perf_counter()
        scores = brute @ query
        best = np.argpartition(-scores, TOP_K)[:TOP_K]
        brute_ms.append((time.perf_counter() - started) * 1e3)
        exact = {str(int(i) + 1) for i in best}
        recalls.append(len(exact & set(found["ids"][0])) / TOP_K)
    end_to_end = []
    for question in questions[:10]:
        started = time.perf_counter()
        index.similar(question, limit=TOP_K)
        end_to_end.append((time.perf_counter() - started) * 1e3)
    for q in (50.0, 95.0):
        value, base = percentile(chroma_ms, q), percentile(brute_ms, q)
        result.add(
            Figure(
                NAME,
                f"search p{q:.0f}, top {TOP_K} of {sizes.anomalies:,} (query embedding given)",
                value,
                "ms",
                "brute-force numpy cosine",
                base,
                ratio(base, value),
                note=f"recall@{TOP_K} against brute force {np.mean(recalls):.3f}"
                if q == 50.0
                else "",
            )
        )
    result.notes.append(
        f"AnomalyIndex.similar end to end (embedding the question, Chroma query, "
        f"tenant filter): p50 {percentile(end_to_end, 50):.0f} ms"
    )


class _Given(Embedder):
    """The precomputed embeddings of the benchmark's questions (no model call)."""

    def __init__(self, vectors: dict[str, list[float]]) -> None:
        super().__init__()
        self._vectors = vectors

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        return [self._vectors[text] for text in texts]


def _tenant_search(
    result: BenchResult,
    index: AnomalyIndex,
    brute: np.ndarray,
    texts: list[str],
    sizes: VectorSizes,
) -> None:
    """AnomalyIndex.similar per tenant against Chroma's filtered query, with recall."""
    rng = np.random.default_rng(3)
    picks = rng.integers(0, sizes.embedded, sizes.queries)
    questions = [f"{texts[int(i)]} (tenant query {n})" for n, i in enumerate(picks)]
    vectors = {q: brute[int(i)].tolist() for q, i in zip(questions, picks, strict=True)}
    real = index._embedder
    index._embedder = _Given(vectors)
    ids = np.arange(1, brute.shape[0] + 1)
    owner = {TENANTS[0]: ids % SMALL_EVERY != 0, TENANTS[1]: ids % SMALL_EVERY == 0}
    try:
        for tenant in TENANTS:
            scoped_ms, filtered_ms, recalls = [], [], []
            foreign = 0
            for question in questions:
                query = vectors[question]
                started = time.perf_counter()
                hits = index.similar(question, limit=TOP_K, tenant=tenant)
                scoped_ms.append((time.perf_counter() - started) * 1e3)
                started = time.perf_counter()
                index._collection.query(
                    query_embeddings=[query], n_results=TOP_K, where={"tenant": tenant}
                )
                filtered_ms.append((time.perf_counter() - started) * 1e3)
                scores = np.where(owner[tenant], brute @ np.asarray(query), -np.inf)
                exact = {int(i) + 1 for i in np.argpartition(-scores, TOP_K)[:TOP_K]}
                recalls.append(len(exact & {h.anomaly_id for h in hits}) / TOP_K)
                foreign += sum(1 for h in hits if not owner[tenant][h.anomaly_id - 1])
            share = 100.0 * float(owner[tenant].mean())
            value, base = percentile(scoped_ms, 50.0), percentile(filtered_ms, 50.0)
            result.add(
                Figure(
                    NAME,
                    f"tenant-scoped search p50, tenant with {share:.0f} % of "
                    f"{sizes.anomalies:,} (AnomalyIndex.similar, query embedding given)",
                    value,
                    "ms",
                    "Chroma query with the tenant filter (before)",
                    base,
                    ratio(base, value),
                    note=f"p95 {percentile(scoped_ms, 95.0):.1f} ms against "
                    f"{percentile(filtered_ms, 95.0):.1f} ms; recall@{TOP_K} against brute "
                    f"force over the tenant's entries {np.mean(recalls):.3f}; other "
                    f"tenants' entries returned: {foreign}",
                )
            )
    finally:
        index._embedder = real
