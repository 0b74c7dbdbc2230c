"""Settings every service shares; each service subclasses with its own env prefix."""

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from crm_common.auth import JwksKeys, KeySource, StaticKey
from crm_common.kafka import KafkaSecurity


class BaseServiceSettings(BaseSettings):
    """Read from environment variables named `<PREFIX>_<FIELD>` (e.g. ORDER_SYNC_HTTP_PORT)."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    service_name: str
    http_host: str = "127.0.0.1"
    http_port: int = 8000
    log_level: str = "INFO"
    http_max_body_bytes: int = Field(default=1024 * 1024, ge=1)
    """Larger request bodies are answered 413 (a service may allow more on a route, such as an
    import's upload)."""

    rate_limit_per_token: float = Field(default=1000.0, ge=0)
    """Requests per second each bearer token may make, per replica, in bursts of up to twice
    as many; 0 for no limit."""
    rate_limit_public: float = Field(default=1000.0, ge=0)
    """Requests per second to each path of the public routes (webhooks: one path per store),
    per replica, in bursts of up to twice as many; 0 for no limit."""

    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    kafka_sasl_username: str | None = None
    """Set (with the password) to reach the brokers with SASL/SCRAM-SHA-512 over TLS."""
    kafka_sasl_password: SecretStr | None = None
    kafka_ssl_cafile: str | None = None
    """PEM certificates of the CAs that signed the brokers' certificates; unset: the system's."""
    kafka_topic_partitions: int = Field(default=3, ge=1)
    consumer_max_attempts: int = Field(default=3, ge=1)
    consumer_retry_backoff_seconds: float = Field(default=0.2, ge=0)

    outbox_poll_interval_seconds: float = Field(default=0.5, gt=0)
    outbox_batch_size: int = Field(default=500, ge=1)
    outbox_relay_lanes: int = Field(default=1, ge=1, le=64)
    """How many relays may publish at once across the replicas (each key's events keep to one
    lane, so stay in order); the same on every replica."""

    shutdown_drain_seconds: float = Field(default=10.0, gt=0)
    """On SIGTERM, how long in-flight HTTP requests get to finish, then the consumers' batches
    in hand; the outbox relay then gets half as long to publish what is left. Keep the sum
    (2.5 times this) under the pod's termination grace period (30 s)."""

    metrics_refresh_seconds: float = Field(default=10.0, gt=0)
    """How often the measured gauges (consumer lag, outbox age) are refreshed."""

    jwt_public_key: str | None = None
    jwt_public_key_file: Path | None = None
    jwt_jwks_url: str | None = None
    """A JWKS document (an http(s) URL or a file path) holding the token keys by `kid`: read
    again every 5 minutes and when a token names a key not in it, so keys rotate without a
    restart. Takes precedence over the PEM public key."""
    jwt_algorithm: str = "RS256"
    jwt_issuer: str = "crm-suite"
    jwt_audience: str = "crm-suite"
    jwt_leeway_seconds: float = Field(default=30.0, ge=0, le=300)
    """Clock skew tolerated on a token's `exp`, `nbf` and `iat`."""

    otel_exporter_otlp_endpoint: str | None = None

    def kafka_security(self) -> KafkaSecurity | None:
        """SASL/SCRAM over TLS when a Kafka user is configured; plain text otherwise."""
        if self.kafka_sasl_username is None:
            return None
        if self.kafka_sasl_password is None:
            raise RuntimeError(
                f"{self.service_name}: KAFKA_SASL_USERNAME needs KAFKA_SASL_PASSWORD"
            )
        return KafkaSecurity(
            username=self.kafka_sasl_username,
            password=self.kafka_sasl_password.get_secret_value(),
            cafile=self.kafka_ssl_cafile,
        )

    def jwt_keys(self) -> KeySource:
        """Where the keys verifying bearer tokens come from; a service refuses to start
        without any."""
        if self.jwt_jwks_url:
            return JwksKeys(self.jwt_jwks_url)
        if self.jwt_public_key:
            return StaticKey(self.jwt_public_key)
        if self.jwt_public_key_file:
            return StaticKey(self.jwt_public_key_file.read_text())
        raise RuntimeError(
            f"{self.service_name}: no JWT keys configured (set <PREFIX>_JWT_JWKS_URL, "
            "<PREFIX>_JWT_PUBLIC_KEY or <PREFIX>_JWT_PUBLIC_KEY_FILE)"
        )


class PostgresSettings(BaseServiceSettings):
    """For the services whose store is PostgreSQL."""

    database_url: str = Field(description="postgresql+asyncpg://user:password@host:port/db")
    database_pool_size: int = Field(default=10, ge=1)


class MongoSettings(BaseServiceSettings):
    """For the services whose store is a MongoDB-wire server."""

    mongodb_url: str = "mongodb://127.0.0.1:27017"
    mongodb_database: str
