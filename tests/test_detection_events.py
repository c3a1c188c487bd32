"""Event merging: a separate, stronger excursion late in a long burst gets its own event."""

from __future__ import annotations

from detection.events import EVENT_SPAN_TOLERANCES, EventBuilder

T0 = 1_700_000_000 * 10**9
STEP = 10**9


def _flag(builder: EventBuilder, index: int, score: float) -> None:
    builder.flag(
        index=index,
        start_index=index,
        start_ts=T0 + index * STEP,
        end_index=index,
        end_ts=T0 + index * STEP,
        score=score,
        deviation=score,
        baseline_median=0.0,
    )


def test_flags_on_consecutive_points_stay_one_event() -> None:
    tolerance = 5
    builder = EventBuilder("flatline", tolerance, 5, 4.0, {})
    span = EVENT_SPAN_TOLERANCES * tolerance
    for index in range(4 * span):
        _flag(builder, index, 12.0 + index)  # rising score, no unflagged point between
    builder.close()
    events = builder.drain()
    assert len(events) == 1
    assert (events[0].end.value - events[0].start.value) // STEP == 4 * span - 1


def test_bursts_of_the_usual_strength_stay_one_event() -> None:
    tolerance = 5
    builder = EventBuilder("limits", tolerance, 5, 4.0, {})
    for index in range(0, 4 * EVENT_SPAN_TOLERANCES * tolerance, 3):
        _flag(builder, index, 12.0)
    builder.close()
    assert len(builder.drain()) == 1


def test_a_stronger_excursion_late_in_a_burst_gets_its_own_event() -> None:
    tolerance = 5
    builder = EventBuilder("limits", tolerance, 5, 4.0, {})
    span = EVENT_SPAN_TOLERANCES * tolerance
    late = 3 * span
    for index in range(0, late, 3):
        _flag(builder, index, 12.0)
    _flag(builder, late, 500.0)
    builder.close()
    events = builder.drain()
    strongest = max(events, key=lambda a: a.score)
    assert strongest.score == 500.0
    assert strongest.start.value > T0 + (late - span - tolerance) * STEP
    assert all(a.score == 12.0 for a in events if a is not strongest)


def test_separate_flags_still_merge_within_the_tolerance() -> None:
    builder = EventBuilder("limits", 5, 5, 4.0, {})
    for index in (10, 13, 16):
        _flag(builder, index, 12.0)
    builder.close()
    events = builder.drain()
    assert len(events) == 1
    assert events[0].start.value == T0 + 10 * STEP
