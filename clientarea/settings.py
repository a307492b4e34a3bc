"""Typed settings read from `CLIENTAREA_*` environment variables, each with a safe default."""

from __future__ import annotations

from functools import lru_cache
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEVELOPMENT_SECRET_KEY = "development-only-secret-key-change-me"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CLIENTAREA_", extra="ignore")

    env: Literal["development", "production", "test"] = "development"
    database_url: str = "sqlite+aiosqlite:///./clientarea.db"
    secret_key: str = DEVELOPMENT_SECRET_KEY
    public_url: str = "http://localhost:3000"
    # smtp://[user:password@]host[:port][?starttls=true|false], or smtps:// for implicit TLS;
    # unset, outgoing email is written to the log instead (development).
    smtp_url: str | None = None
    mail_from: str | None = None
    # The outbox is delivered by a background task in each server process; tests switch it off.
    mail_enabled: bool = True
    mail_poll_seconds: float = 2.0
    cookie_secure: bool = True
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

    # The most nodes one query may ask for (see schema/limits.py), and the largest request body.
    max_query_cost: int = 50_000
    max_body_bytes: int = 64 * 1024

    db_pool_size: int = 10
    db_pool_timeout_seconds: float = 10.0

    @model_validator(mode="after")
    def _production_needs_a_secret(self) -> Settings:
        if self.env == "production" and self.secret_key == DEVELOPMENT_SECRET_KEY:
            raise ValueError("CLIENTAREA_SECRET_KEY must be set in production")
        return self

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
