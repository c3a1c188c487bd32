"""The Chroma index with the offline MiniLM embedder."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from store.queries import AnomalyView
from store.vector import AnomalyIndex, Embedder, NoteDoc, describe_anomaly

T0 = datetime(2024, 3, 2, 10, 0, tzinfo=UTC)


def _view(ident: int, channel: str, kind: str) -> AnomalyView:
    return AnomalyView(
        id=ident,
        satellite="SAT-A",
        channel=channel,
        channel_id=ident,
        start=T0,
        end=T0 + timedelta(minutes=5),
        ongoing=False,
        kind=kind,
        severity="high",
        score=12.0,
        detector="changepoint",
        status="open",
        params={"magnitude": 7.5},
    )


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    return Embedder()


def test_description_names_channel_kind_and_utc_dates() -> None:
    text = describe_anomaly(_view(1, "bus_voltage", "level_shift"))
    assert "level shift" in text and "bus_voltage" in text
    assert "2024-03-02T10:00:00Z" in text and "2024-03-02T10:05:00Z" in text
    assert "magnitude 7.5" in text


def test_embeddings_are_unit_length_and_close_for_close_meanings(embedder: Embedder) -> None:
    a, b, c = embedder.embed(
        ["battery voltage dropped", "bus voltage fell sharply", "wheel speed spike"]
    )
    assert len(a) == 384
    assert sum(x * x for x in a) == pytest.approx(1.0, abs=1e-4)
    similarity_ab = sum(x * y for x, y in zip(a, b, strict=True))
    similarity_ac = sum(x * y for x, y in zip(a, c, strict=True))
    assert similarity_ab > similarity_ac


def test_similar_finds_the_nearest_and_survives_reopen(embedder: Embedder, tmp_path: Path) -> None:
    index = AnomalyIndex(tmp_path / "chroma", embedder)
    index.upsert(
        [
            _view(1, "bus_voltage", "level_shift"),
            _view(2, "wheel_speed", "spike"),
            _view(3, "bus_voltage", "level_shift"),
        ]
    )
    reopened = AnomalyIndex(tmp_path / "chroma", embedder)

    hits = reopened.similar(
        describe_anomaly(_view(1, "bus_voltage", "level_shift")), limit=1, exclude_id=1
    )

    assert reopened.count() == 3
    assert [h.anomaly_id for h in hits] == [3]
    reopened.reset()
    assert reopened.count() == 0


class _CountingEmbedder(Embedder):
    """Deterministic unit vectors (no model): near ids get near vectors."""

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        out = []
        for text in texts:
            ident = float(text.split("#")[1].split()[0]) if "#" in text else 0.0
            angle = ident / 500.0
            out.append([math.cos(angle), math.sin(angle), 0.1])
        return out


def _tenant_views(first: int, count: int) -> list[AnomalyView]:
    return [_view(n, f"ch#{n} ", "spike") for n in range(first, first + count)]


class _QuerySpy:
    """Records the `where` filter of every query the collection answers."""

    def __init__(self, collection: Any) -> None:
        self.collection = collection
        self.filters: list[Any] = []

    def count(self) -> int:
        return int(self.collection.count())

    def query(self, **kwargs: Any) -> Any:
        self.filters.append(kwargs.get("where"))
        return self.collection.query(**kwargs)


def test_tenant_scoped_search_is_exact_with_or_without_the_filter(tmp_path: Path) -> None:
    index = AnomalyIndex(tmp_path / "chroma", _CountingEmbedder())
    index.upsert(_tenant_views(1, 300), tenant="big")
    index.upsert(_tenant_views(301, 3), tenant="small")  # near ids 301..303
    spy = _QuerySpy(index._collection)
    index._collection = spy

    # a big tenant's nearest are found among the unfiltered nearest: no filtered query
    big = index.similar("near ch#150.3 ", limit=5, exclude_id=150, tenant="big")
    assert [hit.anomaly_id for hit in big] == [151, 149, 152, 148, 153]
    assert all(hit.metadata["tenant"] == "big" for hit in big)
    assert spy.filters == [None]

    # a small tenant's entries are too few among the nearest: the filtered query answers
    spy.filters.clear()
    small = index.similar("near ch#10 ", limit=5, tenant="small")
    assert sorted(hit.anomaly_id for hit in small) == [301, 302, 303]
    assert spy.filters == [None, None, {"tenant": "small"}]
    spy.filters.clear()  # its next searches go straight to the (then fast) filtered query
    assert len(index.similar("near ch#20 ", limit=2, tenant="small")) == 2
    assert spy.filters == [{"tenant": "small"}]

    # same answers as Chroma's filtered query, which was the only path before
    filtered = spy.collection.query(
        query_embeddings=index._embedder.embed(["near ch#150.3 "]),
        n_results=6,
        where={"tenant": "big"},
    )
    expected = [int(i) for i in filtered["ids"][0] if int(i) != 150][:5]
    assert [hit.anomaly_id for hit in big] == expected
    assert index.similar("near ch#302 ", limit=5, tenant="nobody") == []


def test_tenant_scoped_note_search_never_returns_another_tenants_note(tmp_path: Path) -> None:
    index = AnomalyIndex(tmp_path / "chroma", _CountingEmbedder())
    notes = [
        NoteDoc(n, _view(n, f"ch#{n} ", "spike"), "op", "expected", f"note #{n} ")
        for n in range(1, 60)
    ]
    index.upsert_notes(notes[:50], tenant="a")
    index.upsert_notes(notes[50:], tenant="b")
    hits_a = index.similar_notes("note #55 ", limit=4, tenant="a")
    hits_b = index.similar_notes("note #5 ", limit=4, tenant="b")
    assert [hit.annotation_id for hit in hits_a] == [50, 49, 48, 47]
    assert {hit.annotation_id for hit in hits_b} <= set(range(51, 60)) and len(hits_b) == 4
