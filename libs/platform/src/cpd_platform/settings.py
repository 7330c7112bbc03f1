"""Configuration of a service, from environment variables (one settings object per service)."""

from __future__ import annotations

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from cpd_events.topics import DEFAULT_PARTITIONS

#: Request bodies larger than this are refused with 413 (``CPD_MAX_BODY_BYTES``): 1 MiB.
DEFAULT_MAX_BODY_BYTES = 1024 * 1024


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    service_name: str = Field(validation_alias=AliasChoices("CPD_SERVICE_NAME", "service_name"))
    database_url: str = Field(validation_alias=AliasChoices("DATABASE_URL", "database_url"))
    kafka_bootstrap_servers: str = Field(
        validation_alias=AliasChoices("KAFKA_BOOTSTRAP_SERVERS", "kafka_bootstrap_servers")
    )
    topic_partitions: int = Field(
        DEFAULT_PARTITIONS, ge=1, validation_alias=AliasChoices("CPD_TOPIC_PARTITIONS")
    )
    consumer_session_timeout_ms: int = Field(
        10_000, ge=1000, validation_alias=AliasChoices("CPD_CONSUMER_SESSION_TIMEOUT_MS")
    )
    consumer_heartbeat_interval_ms: int = Field(
        3_000, ge=100, validation_alias=AliasChoices("CPD_CONSUMER_HEARTBEAT_INTERVAL_MS")
    )
    consumer_fetch_max_wait_ms: int = Field(
        50, ge=0, validation_alias=AliasChoices("CPD_CONSUMER_FETCH_MAX_WAIT_MS")
    )
    consumer_max_records: int = Field(
        500, ge=1, validation_alias=AliasChoices("CPD_CONSUMER_MAX_RECORDS")
    )
    relay_idle_sleep_s: float = Field(
        0.02, gt=0, validation_alias=AliasChoices("CPD_RELAY_IDLE_SLEEP_S")
    )
    database_pool_size: int = Field(10, ge=2, validation_alias=AliasChoices("CPD_DB_POOL_SIZE"))
    startup_timeout_s: float = Field(
        60, gt=0, validation_alias=AliasChoices("CPD_STARTUP_TIMEOUT_S")
    )
    log_level: str = Field("INFO", validation_alias=AliasChoices("LOG_LEVEL"))
    log_format: str = Field(
        "auto", pattern="^(auto|json|console)$", validation_alias=AliasChoices("CPD_LOG_FORMAT")
    )
    # traces: OTLP over HTTP when an endpoint is set (see cpd_platform.telemetry)
    otel_traces_exporter: str | None = Field(
        None, validation_alias=AliasChoices("OTEL_TRACES_EXPORTER")
    )
    otel_exporter_otlp_endpoint: str | None = Field(
        None, validation_alias=AliasChoices("OTEL_EXPORTER_OTLP_ENDPOINT")
    )
    otel_exporter_otlp_traces_endpoint: str | None = Field(
        None, validation_alias=AliasChoices("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    )
    #: request bodies larger than this are refused with 413 (problem+json naming ``body``)
    max_body_bytes: int = Field(
        DEFAULT_MAX_BODY_BYTES, ge=0, validation_alias=AliasChoices("CPD_MAX_BODY_BYTES")
    )
    #: consumer lag in /metrics is recomputed at most this often
    metrics_lag_ttl_s: float = Field(
        10.0, ge=0, validation_alias=AliasChoices("CPD_METRICS_LAG_TTL_S")
    )
