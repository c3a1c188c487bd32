"""The one settings class: environment (`IMON_*`), `.env`, defaults that work."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every setting of the service, each with a working default."""

    model_config = SettingsConfigDict(env_prefix="IMON_", env_file=".env", extra="ignore")

    home: Path = Field(Path("var"), description="Directory of the SQLite file, index and lock.")
    database_url: str | None = Field(
        None, description="SQLAlchemy URL; PostgreSQL when set, SQLite under home otherwise."
    )
    host: str = Field("127.0.0.1", description="Address `imon serve` binds to.")
    port: int = Field(8000, ge=1, le=65535, description="Port `imon serve` listens on.")
    url: str = Field(
        "http://127.0.0.1:8000", description="Where CLI commands find the running service."
    )
    simulator: bool = Field(False, description="Run the built-in telemetry simulator.")
    simulator_seed: int = Field(7, description="Seed of the simulator's telemetry.")
    simulator_satellite: str = Field("SIM-1", description="Satellite name of the simulator.")
    simulator_backfill_hours: float = Field(
        24.0, ge=0, le=24 * 30, description="Hours of simulated history written at start."
    )
    simulator_cadence_s: float = Field(10.0, gt=0, description="Seconds between samples.")
    worker: bool = Field(True, description="Run the ingestion worker inside `imon serve`.")
    worker_interval_s: float = Field(5.0, gt=0, description="Seconds between worker polls.")
    index: bool = Field(True, description="Embed anomalies into the Chroma vector index.")
    detector_window: int = Field(
        2000, ge=100, le=200_000, description="Points of history kept per channel."
    )
    agent_mode: Literal["planner"] = Field(
        "planner", description="How /ask answers: the offline planner."
    )
    max_question_chars: int = Field(2000, ge=10, description="Longest question accepted.")
    max_points_per_push: int = Field(100_000, ge=1, description="Most points in one push.")
    log_level: str = Field("INFO", description="Logging level of server and worker.")

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError(f"IMON_LOG_LEVEL={value!r} is not a logging level")
        return level


def load_settings() -> Settings:
    """Read the settings from the environment and `.env`."""
    return Settings()
