"""The Chroma index with the offline MiniLM embedder."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from store.queries import AnomalyView
from store.vector import AnomalyIndex, Embedder, describe_anomaly

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
