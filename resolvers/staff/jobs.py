"""The periodic work behind `clientarea jobs run`: expire lapsed domains, carry out due cancellations,
clear held affiliate commissions, and purge what has served its time.

Every step is one conditional statement (or the affiliate module's own batches), so it is idempotent
and safe to run from several machines at once: a row changes once, whoever gets there first, and
each change is audited by the runner that made it (UPDATE ... RETURNING).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, fields
from datetime import date, datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, Delete, and_, delete, or_, update
from sqlalchemy.ext.asyncio import AsyncSession

from models.base import utcnow
from models.billing import IdempotencyKey
from models.database import Database
from models.hosting import CancellationType, Domain, DomainStatus, Service, ServiceStatus
from models.identity import Session
from models.ratelimits import RateLimitHit
from models.sso import ServiceLogin
from resolvers.core.audit import record_system
from resolvers.core.ids import encode_id
from resolvers.core.settings import Settings
from resolvers.hosting.services import CANCELLABLE

logger = logging.getLogger("clientarea.jobs")
# Dead sessions and old rate-limit hits are kept this long: no rate-limit window is longer, and a
# day of dead sessions is enough to look into a sign-in problem.
KEEP_FOR = timedelta(days=1)


@dataclass(frozen=True)
class JobsSummary:
    domains_expired: int
    services_cancelled: int
    # None: the affiliate programme's module is not installed, the step was skipped.
    commissions_cleared: int | None
    idempotency_keys_purged: int
    sessions_purged: int
    service_logins_purged: int
    rate_limit_hits_purged: int

    def line(self) -> str:
        parts = []
        for field in fields(self):
            value = getattr(self, field.name)
            parts.append(f"{field.name.replace('_', ' ')}: {'skipped' if value is None else value}")
        return ", ".join(parts)


async def run_jobs(db: Database, settings: Settings, *, now: datetime | None = None) -> JobsSummary:
    now = now or utcnow()
    today = now.date()
    return JobsSummary(
        domains_expired=await expire_domains(db, today=today),
        services_cancelled=await carry_out_cancellations(db, today=today),
        commissions_cleared=await clear_affiliate_commissions(db, now=now),
        idempotency_keys_purged=await _purge(
            db, delete(IdempotencyKey).where(IdempotencyKey.created_at < now - _idempotency_window(settings))
        ),
        sessions_purged=await _purge(db, _dead_sessions(settings, now)),
        service_logins_purged=await _purge(
            db,
            delete(ServiceLogin).where(or_(ServiceLogin.used_at.is_not(None), ServiceLogin.expires_at < now)),
        ),
        rate_limit_hits_purged=await _purge(
            db, delete(RateLimitHit).where(RateLimitHit.occurred_at < now - KEEP_FOR)
        ),
    )


async def expire_domains(db: Database, *, today: date) -> int:
    """ACTIVE domains past their expiry that do not renew become EXPIRED; auto-renewing ones are
    billing's to renew."""
    async with db.begin() as session:
        expired = await _changed(
            session,
            update(Domain)
            .where(
                Domain.status == DomainStatus.ACTIVE,
                Domain.expires_at < today,
                Domain.auto_renew.is_(False),
            )
            .values(status=DomainStatus.EXPIRED)
            .returning(Domain.id, Domain.account_id),
        )
        for domain_id, account_id in expired:
            record_system(
                session, "domain.expired", account_id=account_id, subject_id=encode_id("Domain", domain_id)
            )
    return len(expired)


async def carry_out_cancellations(db: Database, *, today: date) -> int:
    """Requested cancellations that are due: IMMEDIATE ones, and END_OF_BILLING_PERIOD ones whose
    period has ended (a service with no due date has no period left to run)."""
    due = or_(
        Service.cancellation_type == CancellationType.IMMEDIATE,
        and_(
            Service.cancellation_type == CancellationType.END_OF_BILLING_PERIOD,
            or_(Service.next_due_date.is_(None), Service.next_due_date <= today),
        ),
    )
    async with db.begin() as session:
        cancelled = await _changed(
            session,
            update(Service)
            .where(Service.status.in_(CANCELLABLE), due)
            .values(status=ServiceStatus.CANCELLED)
            .returning(Service.id, Service.account_id),
        )
        for service_id, account_id in cancelled:
            record_system(
                session,
                "service.cancelled",
                account_id=account_id,
                subject_id=encode_id("Service", service_id),
            )
    return len(cancelled)


async def clear_affiliate_commissions(db: Database, *, now: datetime) -> int | None:
    try:
        from resolvers.affiliates import clear_commissions
    except ImportError:
        logger.warning("affiliate commissions not cleared: resolvers.affiliates.clear_commissions is missing")
        return None
    return await clear_commissions(db, now=now)


def _idempotency_window(settings: Settings) -> timedelta:
    return timedelta(hours=settings.idempotency_key_hours)


def _dead_sessions(settings: Settings, now: datetime) -> Delete:
    """Sessions that ended (expired, revoked or idle past the limit) more than KEEP_FOR ago."""
    cutoff = now - KEEP_FOR
    return delete(Session).where(
        or_(
            Session.expires_at < cutoff,
            Session.revoked_at < cutoff,
            Session.last_seen_at < cutoff - timedelta(minutes=settings.session_idle_minutes),
        )
    )


async def _changed(session: AsyncSession, statement: Any) -> list[Any]:
    return list((await session.execute(statement.execution_options(synchronize_session=False))).all())


async def _purge(db: Database, statement: Delete) -> int:
    async with db.begin() as session:
        result = cast(
            "CursorResult[Any]",
            await session.execute(statement.execution_options(synchronize_session=False)),
        )
    return result.rowcount
