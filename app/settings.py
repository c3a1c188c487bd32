"""The one settings class: environment (`IMON_*`), `.env`, defaults that work."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.secret_policy import PlaceholderSecretError, placeholder_error, placeholder_reason


class Settings(BaseSettings):
    """Every setting of the service, each with a working default."""

    model_config = SettingsConfigDict(env_prefix="IMON_", env_file=".env", extra="ignore")

    env: Literal["development", "production"] = Field(
        "development",
        description="`production` refuses to start with a placeholder secret (admin key, "
        "session, link or SMTP secret, webhook secrets); `development` (the embedded "
        "default) accepts them.",
    )
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
    agent_mode: Literal["planner", "llm"] = Field(
        "planner",
        description="How /ask answers: the offline planner, or an LLM agent over the same "
        "tools (falls back to the planner).",
    )
    llm_base_url: str = Field(
        "http://127.0.0.1:11434/v1",
        description="OpenAI-compatible endpoint of LLM mode (Ollama, vLLM, llama.cpp, hosted).",
    )
    llm_model: str = Field("qwen2.5:7b-instruct", description="Model name the endpoint serves.")
    llm_api_key: SecretStr = Field(
        SecretStr(""), description="Bearer token of the endpoint; empty when it has none."
    )
    llm_max_steps: int = Field(8, ge=1, le=50, description="LLM calls per question at most.")
    llm_timeout_s: float = Field(
        60.0, gt=0, le=600, description="Seconds for one LLM-mode answer, tool calls included."
    )
    max_question_chars: int = Field(2000, ge=10, description="Longest question accepted.")
    max_points_per_push: int = Field(100_000, ge=1, description="Most points in one push.")
    push_detection: Literal["background", "inline"] = Field(
        "background",
        description="Pushed points detected by a background stage (the push answers once "
        "stored) or inside the request.",
    )
    detection_queue_channels: int = Field(
        10_000, ge=1, description="Channels the background detection queue holds in memory."
    )
    max_push_bytes: int = Field(
        32 * 1024 * 1024, ge=1024, description="Largest push body, after gzip decompression."
    )
    max_points_per_query: int = Field(
        1_000_000, ge=1, description="Most points one KairosDB-style query answers."
    )
    kairosdb_default_satellite: str = Field(
        "default", min_length=1, description="Satellite of KairosDB pushes without the tag."
    )
    sources_file: Path | None = Field(
        None, description="TOML file of polled sources; `sources.toml` in the cwd if present."
    )
    gap_factor: float = Field(
        5.0,
        ge=0,
        description="A feed quiet for this many median cadences (plus the poll interval) "
        "opens a `gap` anomaly; 0 turns the check off.",
    )
    retention_days: float = Field(
        0.0, ge=0, description="Raw points older than this are purged; 0 keeps everything."
    )
    retention_margin_s: float = Field(
        21600.0, ge=0, description="Seconds of points kept on each side of every anomaly."
    )
    retention_interval_s: float = Field(
        3600.0, gt=0, description="Seconds between retention runs in the worker."
    )
    # notifications (app/notifications): incidents, outbox delivery, SMTP
    incident_quiet_s: float = Field(
        900.0, gt=0, description="Seconds of data time without anomaly that close an incident."
    )
    public_url: str | None = Field(
        None, description="Base URL of links in messages (dashboard, ack); `url` when unset."
    )
    notify_secret: SecretStr | None = Field(
        None, description="Key signing ack/silence links; generated under home when unset."
    )
    notify_max_attempts: int = Field(8, ge=1, le=100, description="Deliveries tried at most.")
    notify_backoff_s: float = Field(5.0, gt=0, description="First retry delay, doubled after.")
    notify_backoff_max_s: float = Field(3600.0, gt=0, description="Longest retry delay.")
    notify_dispatch: bool = Field(True, description="Deliver the outbox inside `imon serve`.")
    notify_poll_s: float = Field(1.0, gt=0, description="Seconds between outbox scans.")
    notify_timeout_s: float = Field(10.0, gt=0, description="Timeout of one delivery.")
    smtp_host: str | None = Field(None, description="SMTP server of e-mails; none: no e-mail.")
    smtp_port: int = Field(25, ge=1, le=65535, description="SMTP port.")
    smtp_user: str | None = Field(None, description="SMTP login, when the server needs one.")
    smtp_password: SecretStr | None = Field(None, description="SMTP password.")
    smtp_from: str = Field("imon@localhost", description="Sender address of e-mails.")
    smtp_starttls: bool = Field(False, description="Upgrade the SMTP connection with STARTTLS.")
    dev_loopback_access: bool = Field(
        True,
        description="Embedded default only (SQLite, no admin key): keyless requests from "
        "loopback may read and ask.",
    )
    log_level: str = Field("INFO", description="Logging level of server and worker.")
    # per-channel models and reports (ingestion/training.py, app/reports.py)
    model_versions_kept: int = Field(
        5, ge=1, le=1000, description="Model versions kept per channel (the newest)."
    )
    report_retention_days: float = Field(
        90.0, gt=0, description="Reports written under home/reports are deleted after this."
    )
    report_check_interval_s: float = Field(
        300.0, gt=0, description="Seconds between checks for scheduled reports that are due."
    )
    retrain_interval_hours: float = Field(
        0.0,
        ge=0,
        description="The worker retrains channels whose model is older than this or missing; "
        "0 turns scheduled training off.",
    )
    # security (app/auth.py): API keys, limits
    admin_key: SecretStr | None = Field(
        None, description="Accepted as the default tenant's admin key (automation, deployments)."
    )
    api_key: SecretStr | None = Field(
        None, description="Key CLI commands send; the dev key file under home when unset."
    )
    rate_ask_per_minute: float = Field(
        60.0, gt=0, description="Questions per minute per key (token bucket, bursts as big)."
    )
    rate_ingest_per_minute: float = Field(
        600.0, gt=0, description="Ingest requests per minute per key (token bucket)."
    )
    max_body_bytes: int = Field(
        16 * 1024 * 1024, ge=1024, description="Largest request body outside KairosDB pushes."
    )
    # browser security (app/web_session.py): dashboard sessions, CSRF, signed plot links
    session_secret: SecretStr | None = Field(
        None,
        description="Key signing dashboard sessions, CSRF tokens and plot links; generated "
        "under home when unset in development, required in production.",
    )
    session_max_age_s: float = Field(
        8 * 3600.0, ge=60, le=30 * 86400, description="Seconds a dashboard login lasts."
    )
    session_cookie_secure: bool = Field(
        False,
        description="Always mark the session cookie Secure (it is whenever a request came "
        "over https).",
    )
    signed_url_ttl_s: float = Field(
        3600.0, ge=10, le=7 * 86400, description="Seconds a signed plot or stream link lasts."
    )

    @model_validator(mode="after")
    def _no_placeholder_secrets(self) -> Settings:
        if self.env == "development":
            return self
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, SecretStr) and value.get_secret_value():
                reason = placeholder_reason(value.get_secret_value())
                if reason is not None:
                    setting = f"IMON_{name.upper()}"
                    raise PlaceholderSecretError(placeholder_error(setting, reason))
        return self

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
