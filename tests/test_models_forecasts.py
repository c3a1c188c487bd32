"""Per-channel models, forecasts and reports, on the simulator and on real series."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from filelock import FileLock
from sqlalchemy.engine import Engine
from sqlmodel import Session

from agent.context import ToolContext
from agent.planner import plan
from app.limits_file import LimitsFileError, read_limits
from app.reports import build_report, prune_reports, save_report
from detection import DetectorConfig
from detection.forecast import crossing, forecast
from detection.profile import detector_config, learn_profile
from eval.datasets import load_manifest, load_series
from ingestion.pipeline import Pipeline, channel_by_name
from ingestion.training import (
    TRAINING_LOCK,
    TrainingBusyError,
    model_configs,
    train_channels,
)
from ingestion.worker import Worker, simulator_source
from store import channel_models
from store.db import make_engine, migrate

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
MINUTE_NS = 60_000_000_000


@pytest.fixture(scope="module")
def sim_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Engine, Path]]:
    """A store with 24 h of simulator telemetry at one sample a minute, detected."""
    home = tmp_path_factory.mktemp("sim")
    engine = make_engine(f"sqlite:///{home / 'imon.db'}")
    migrate(engine)
    source = simulator_source(seed=7, satellite="SIM-1", cadence_s=60, backfill_hours=24)
    Worker(Pipeline(engine), [source], clock=lambda: NOW).run_once()
    yield engine, home
    engine.dispose()


def _channel_id(engine: Engine, name: str) -> int:
    with Session(engine) as session:
        found = channel_by_name(session, "SIM-1", name)
    assert found is not None and found.id is not None
    return found.id


def test_forecast_interval_covers_synthetic_trend_and_season() -> None:
    rng = np.random.default_rng(3)
    n, horizon, period = 1200, 120, 60
    t = np.arange(n + horizon)
    truth = 0.01 * t + 2.0 * np.sin(2 * np.pi * t / period) + rng.normal(0, 0.3, t.size)
    ts = t.astype(np.int64) * MINUTE_NS

    result = forecast(ts[:n], truth[:n], horizon, period=period, level=0.9)

    inside = (truth[n:] >= result.lower) & (truth[n:] <= result.upper)
    assert 0.8 <= inside.mean() <= 1.0
    assert np.all(result.upper > result.lower)
    assert (result.upper - result.lower)[-1] >= (result.upper - result.lower)[0]  # widens
    assert np.corrcoef(result.mean, truth[n:])[0, 1] > 0.8  # the season is forecast
    assert result.ts[0] == ts[n - 1] + MINUTE_NS


def test_crossing_orders_earliest_expected_latest_on_a_falling_trend() -> None:
    rng = np.random.default_rng(5)
    t = np.arange(600)
    values = 30.0 - 0.005 * t + rng.normal(0, 0.05, t.size)
    result = forecast(t.astype(np.int64) * MINUTE_NS, values, 600)

    found = crossing(result, 26.0, "below")

    assert found.earliest_ns is not None and found.mean_ns is not None
    assert found.earliest_ns <= found.mean_ns
    assert found.latest_ns is None or found.mean_ns <= found.latest_ns
    assert crossing(result, 10.0, "below").earliest_ns is None


def test_forecast_rejects_a_too_short_history() -> None:
    with pytest.raises(ValueError, match="at least 30 finite values"):
        forecast(np.arange(5, dtype=np.int64), np.ones(5), 3)


def test_profile_of_a_daily_nab_series_has_its_daily_period(shared_data: Path) -> None:
    entry = next(
        e for e in load_manifest(shared_data) if e["series_id"].endswith("art_daily_nojump")
    )
    series = load_series(shared_data, entry)

    learned = learn_profile(series.ts_ns, series.values)

    params = learned["params"]
    assert params["period"] == 288  # one day at 5-minute samples
    assert params["m"] == 128  # clamped to the detector's m_max
    assert params["normal_range"]["low"] < params["normal_range"]["high"]
    assert learned["quality"]["forecast_coverage"] >= 0.8
    config = detector_config(params, DetectorConfig())
    assert config.m == 128 and config.warmup >= 4 * 128 and config.window >= config.warmup


def test_training_stores_versions_marks_one_active_and_prunes(
    sim_engine: tuple[Engine, Path],
) -> None:
    engine, home = sim_engine
    for _ in range(3):
        results = train_channels(engine, home, satellite="SIM-1", channel="wheel_speed", keep=2)

    assert [r.version for r in results] == [3]
    with Session(engine) as session:
        stored = channel_models.versions(session, _channel_id(engine, "wheel_speed"))
    assert [v.version for v in stored] == [3, 2]
    assert [v.active for v in stored] == [True, False]
    assert stored[0].params["m"] >= 8 and stored[0].quality["points"] == 24 * 60


def test_a_second_training_run_is_refused_while_one_holds_the_lock(
    sim_engine: tuple[Engine, Path],
) -> None:
    engine, home = sim_engine
    with FileLock(str(home / TRAINING_LOCK)), pytest.raises(TrainingBusyError):
        train_channels(engine, home, satellite="SIM-1")


def test_pipeline_detects_with_the_trained_m(sim_engine: tuple[Engine, Path]) -> None:
    engine, home = sim_engine
    train_channels(engine, home, satellite="SIM-1", channel="bus_voltage")
    wheel, bus = _channel_id(engine, "wheel_speed"), _channel_id(engine, "bus_voltage")
    with Session(engine) as session:
        trained = channel_models.active_model(session, bus)
    assert trained is not None
    base = DetectorConfig()
    pipeline = Pipeline(engine, base, config_for=model_configs(engine, base))
    source = simulator_source(seed=7, satellite="SIM-1", cadence_s=60, backfill_hours=24)

    Worker(pipeline, [source], clock=lambda: NOW + timedelta(minutes=30)).run_once()

    assert pipeline.channel_config(bus).m == trained.params["m"]
    assert pipeline._detectors[bus].m == trained.params["m"]
    untrained = _channel_id(engine, "panel_temperature")
    with Session(engine) as session:
        assert channel_models.active_model(session, untrained) is None
    assert pipeline.channel_config(untrained) is base  # defaults while none exists
    assert pipeline.channel_config(wheel).m is not None


def test_limit_crossing_answer_takes_its_dates_from_the_forecast_tool(
    sim_engine: tuple[Engine, Path],
) -> None:
    engine, _home = sim_engine
    ctx = ToolContext(engine=engine, now=lambda: NOW)

    outcome = plan(ctx, "when will the bus voltage fall below 27.5 V at this rate?")

    text = outcome.result.answer
    assert [c.tool for c in outcome.result.tool_calls] == ["forecast"]
    _tool, arguments, result = outcome.results[0]
    assert arguments["threshold"] == 27.5 and arguments["direction"] == "below"
    dates = re.findall(r"\d{4}-\d\d-\d\dT[\d:.]+Z", text)
    assert dates
    tool_dates = {result["last_ts"], result["horizon_end"]} | {
        c[k] for c in result["crossings"] for k in ("earliest", "expected", "latest")
    }
    assert set(dates) <= tool_dates
    first = result["crossings"][0]
    if first["earliest"] is None:
        assert "do not support" in text
    else:
        assert first["earliest"] in text


def test_model_question_and_follow_up_report_the_active_version(
    sim_engine: tuple[Engine, Path],
) -> None:
    engine, home = sim_engine
    train_channels(engine, home, satellite="SIM-1", channel="wheel_speed")
    ctx = ToolContext(engine=engine, now=lambda: NOW)

    first = plan(ctx, "how is the wheel speed channel configured?")
    follow = plan(ctx, "when was it last trained?", first.conversation)

    with Session(engine) as session:
        model = channel_models.active_model(session, _channel_id(engine, "wheel_speed"))
    assert model is not None
    assert f"version {model.version}" in first.result.answer
    assert f"m = {model.params['m']}" in first.result.answer
    assert [c.tool for c in follow.result.tool_calls] == ["channel_model"]
    assert follow.results[0][2]["created_at"] in follow.result.answer


def test_report_renders_plots_limits_forecasts_and_prunes(
    sim_engine: tuple[Engine, Path],
) -> None:
    engine, home = sim_engine
    with Session(engine) as session:
        channel_models.set_limits(
            session, _channel_id(engine, "bus_voltage"), 27.9, None, "imported"
        )
        session.commit()
    ctx = ToolContext(engine=engine, now=lambda: NOW)

    report = build_report(ctx, "SIM-1", "24h")

    assert "data:image/png;base64,iVBOR" in report.html  # an inline PNG
    assert "wheel_speed" in report.html and "bus_voltage" in report.html
    assert 'id="forecasts"' in report.html and "below 27.9" in report.html
    path = save_report(home, report)
    assert path.read_text() == report.html
    assert prune_reports(home, retention_days=1, now=path.stat().st_mtime + 2 * 86400) == 1
    assert not path.exists()


def test_limits_files_are_read_from_csv_and_yaml_with_clear_errors(tmp_path: Path) -> None:
    csv_file = tmp_path / "limits.csv"
    csv_file.write_text("satellite,channel,low,high\nSIM-1,bus_voltage,27,\n")
    yaml_file = tmp_path / "limits.yaml"
    yaml_file.write_text("- {satellite: SIM-1, channel: wheel_speed, low: 500, high: 4000}\n")
    bad = tmp_path / "bad.csv"
    bad.write_text("satellite,channel,low,high\nSIM-1,bus_voltage,high,\n")

    assert read_limits(csv_file) == [
        {"satellite": "SIM-1", "channel": "bus_voltage", "low": 27.0, "high": None}
    ]
    assert read_limits(yaml_file)[0]["high"] == 4000.0
    with pytest.raises(LimitsFileError, match="row 1, field 'low'"):
        read_limits(bad)
