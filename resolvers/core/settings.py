"""Typed settings read from `CLIENTAREA_*` environment variables, each with a safe default."""

from __future__ import annotations

import base64
import hashlib
from decimal import Decimal
from functools import lru_cache
from typing import Annotated, Literal
from urllib.parse import urlsplit

from cryptography.fernet import Fernet
from pydantic import Field, StringConstraints, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEVELOPMENT_SECRET_KEY = "development-only-secret-key-change-me"
DEVELOPMENT_SSO_SIGNING_KEY = "development-only-sso-signing-key-change-me"
DEVELOPMENT_SSO_PANEL_SECRET = "development-only-sso-panel-secret-change-me"


class Settings(BaseSettings):
    # Errors never quote the input: it may hold a key.
    model_config = SettingsConfigDict(env_prefix="CLIENTAREA_", extra="ignore", hide_input_in_errors=True)

    env: Literal["development", "production", "test"] = "development"
    database_url: str = "sqlite+aiosqlite:///./clientarea.db"
    secret_key: str = Field(default=DEVELOPMENT_SECRET_KEY, repr=False)
    public_url: str = "http://localhost:3000"
    # smtp://[user:password@]host[:port][?starttls=true|false], or smtps:// for implicit TLS;
    # unset, outgoing email is written to the log instead (development).
    smtp_url: str | None = Field(default=None, repr=False)
    mail_from: str | None = None
    # The outbox is delivered by a background task in each server process; tests switch it off.
    mail_enabled: bool = True
    mail_poll_seconds: float = 2.0
    # A worker's claim on an outbox message lasts this long: a worker that dies holding it delays
    # the message by at most this much. One send may take two thirds of it.
    mail_lease_seconds: float = Field(default=30.0, ge=1.5, le=600)
    # The session cookie is Secure in production, always; in development (plain HTTP) only when
    # asked, because clients that honour Secure never send it back over http://.
    cookie_secure: bool = Field(default_factory=lambda given: given.get("env") == "production")
    cookie_name: str = "clientarea_session"
    graphiql: bool | None = None
    introspection: bool | None = None
    allowed_origins: list[str] = Field(default_factory=list)

    # Sessions: a session ends after this much inactivity, and in any case after the absolute limit.
    session_idle_minutes: int = 60 * 24
    session_absolute_days: int = 30
    # argon2id cost; the defaults are the RFC 9106 "low memory" recommendation.
    password_time_cost: int = 3
    password_memory_kib: int = 64 * 1024
    password_parallelism: int = 4

    # Nameservers a domain ordered without its own gets.
    default_nameservers: list[str] = Field(
        default_factory=lambda: ["ns1.clientarea.example", "ns2.clientarea.example"]
    )

    # Control-panel sign-on: links point at PANEL_URL/sso; their tokens are signed with
    # SSO_SIGNING_KEY, and the panel redeems them at POST /sso/verify with SSO_PANEL_SECRET as its
    # bearer credential. Both keys must be set in production.
    panel_url: str = "http://localhost:2083"
    sso_signing_key: str = Field(default=DEVELOPMENT_SSO_SIGNING_KEY, repr=False)
    sso_panel_secret: str = Field(default=DEVELOPMENT_SSO_PANEL_SECRET, repr=False)

    # `jobs run` purges idempotency keys this old: a retried order is replayed within this window.
    idempotency_key_hours: int = Field(default=24, ge=1)

    # The most nodes one query may ask for (see schema/core/limits.py), and the largest request body.
    max_query_cost: int = 50_000
    max_body_bytes: int = 64 * 1024
    # Production hardening: a cookie session (the dashboard) may run only the documents registered
    # with `clientarea documents load`; API tokens and anonymous callers may still send any query.
    trusted_documents_only: bool = False
    # Automatic persisted queries: how many client-registered documents the database keeps.
    persisted_queries_max: int = Field(default=10_000, ge=1)

    # Departments a ticket can be opened in, as the dashboard lists them (env: a JSON list).
    ticket_departments: list[Annotated[str, StringConstraints(min_length=1, max_length=64)]] = Field(
        default_factory=lambda: ["Support", "Billing", "Sales"], min_length=1
    )

    # The affiliate programme: an affiliate earns this percent of the net hosting revenue of the
    # accounts it referred (the rate is fixed when it activates); a commission is held this many days
    # after the invoice is paid, so a refund or a cancelled service voids it before it counts.
    affiliate_commission_rate: Decimal = Field(default=Decimal("10"), ge=0, le=100, decimal_places=2)
    affiliate_hold_days: int = Field(default=30, ge=0)

    # Abuse limits (resolvers/core/ratelimits.py), each counted in the database before the work it guards.
    # Failed sign-ins (and refused ones) per email within the window lock that email's sign-in.
    sign_in_failures: int = Field(default=5, ge=1)
    # At most a day: `jobs run` purges day-old hits.
    sign_in_window_minutes: int = Field(default=15, ge=1, le=24 * 60)
    # Per client address: these answers reveal whether an email is registered (DESIGN rule 12).
    sign_ups_per_hour: int = Field(default=20, ge=1)
    invitation_previews_per_hour: int = Field(default=120, ge=1)
    # Per email address: enough for a retry or two, too few to flood someone's inbox.
    password_resets_per_hour: int = Field(default=5, ge=1)
    email_verifications_per_hour: int = Field(default=5, ge=1)
    # Per viewer, and per account.
    invitations_per_minute: int = Field(default=20, ge=1)
    invitations_per_account_per_day: int = Field(default=100, ge=1)
    accounts_on_behalf_per_hour: int = Field(default=20, ge=1)

    # Freeze start-up objects and raise the collector's threshold (clientarea/gc_tuning.py).
    gc_tuning: bool = True

    # Fernet keys that encrypt two-factor secrets at rest (env: a JSON list). The first encrypts,
    # every one decrypts, so a new key goes first and an old one stays until nothing uses it (see
    # README). Empty: a key derived from SECRET_KEY, allowed outside production only.
    two_factor_keys: list[str] = Field(default_factory=list, repr=False)
    # The bearer secret of GET /metrics (Prometheus); unset, there is no /metrics.
    metrics_token: str | None = Field(default=None, min_length=16, repr=False)

    db_pool_size: int = 10
    db_pool_timeout_seconds: float = 10.0
    # GraphQL requests one process runs at once; the rest wait their turn, each at most this long
    # before a 503 (clientarea/admission.py). Keep it at most the pool size: a request holds one
    # connection while it runs.
    max_concurrent_requests: int = Field(default=8, ge=1)
    request_wait_seconds: float = Field(default=10.0, gt=0)

    @model_validator(mode="after")
    def _production_needs_a_secret(self) -> Settings:
        if self.env == "production" and self.secret_key == DEVELOPMENT_SECRET_KEY:
            raise ValueError("CLIENTAREA_SECRET_KEY must be set in production")
        return self

    @model_validator(mode="after")
    def _production_cookies_are_secure(self) -> Settings:
        if self.env == "production" and not self.cookie_secure:
            raise ValueError("CLIENTAREA_COOKIE_SECURE cannot be false in production")
        return self

    @model_validator(mode="after")
    def _production_needs_sso_keys(self) -> Settings:
        if self.env == "production":
            if self.sso_signing_key == DEVELOPMENT_SSO_SIGNING_KEY:
                raise ValueError("CLIENTAREA_SSO_SIGNING_KEY must be set in production")
            if self.sso_panel_secret == DEVELOPMENT_SSO_PANEL_SECRET:
                raise ValueError("CLIENTAREA_SSO_PANEL_SECRET must be set in production")
        return self

    @model_validator(mode="after")
    def _two_factor_keys_are_fernet_keys(self) -> Settings:
        if self.env == "production" and not self.two_factor_keys:
            raise ValueError("CLIENTAREA_TWO_FACTOR_KEYS must be set in production")
        for key in self.two_factor_keys:
            try:
                Fernet(key)
            except (ValueError, TypeError):
                raise ValueError(
                    "CLIENTAREA_TWO_FACTOR_KEYS holds a key that is not a Fernet key "
                    "(32 url-safe base64-encoded bytes)"
                ) from None
        return self

    @property
    def two_factor_fernet_keys(self) -> list[str]:
        """The keys in use: the configured ones, or in development one derived from SECRET_KEY."""
        if self.two_factor_keys:
            return list(self.two_factor_keys)
        derived = hashlib.sha256(b"clientarea two-factor secrets\0" + self.secret_key.encode()).digest()
        return [base64.urlsafe_b64encode(derived).decode()]

    @property
    def graphiql_enabled(self) -> bool:
        return self.graphiql if self.graphiql is not None else self.env != "production"

    @property
    def introspection_enabled(self) -> bool:
        if self.introspection is not None:
            return self.introspection
        return self.env != "production"

    @property
    def sender(self) -> str:
        if self.mail_from:
            return self.mail_from
        host = urlsplit(self.public_url).hostname or "localhost"
        return f"no-reply@{host}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
