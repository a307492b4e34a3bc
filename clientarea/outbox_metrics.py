"""The email outbox as operators watch it: backlog, retries, failures and the age of the oldest due
email, read from the outbox table when /metrics is scraped (the same for every worker)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import ColumnElement, and_, case, func, select

from models.base import utcnow
from models.database import Database
from models.outbox import EmailStatus, OutboxEmail


@dataclass(frozen=True)
class OutboxState:
    pending: int
    retrying: int
    failed: int
    oldest_due: datetime | None


def _how_many(*conditions: ColumnElement[bool]) -> ColumnElement[int]:
    return func.coalesce(func.sum(case((and_(*conditions), 1), else_=0)), 0)


async def outbox_state(db: Database) -> OutboxState:
    """Two statements; both read only pending and failed rows (through the status index), never the
    sent ones that pile up."""
    now = utcnow()
    async with db.read() as session:
        pending = OutboxEmail.status == EmailStatus.PENDING
        counts = (
            await session.execute(
                select(
                    _how_many(pending),
                    _how_many(pending, OutboxEmail.attempts > 0),
                    _how_many(OutboxEmail.status == EmailStatus.FAILED),
                ).where(OutboxEmail.status.in_([EmailStatus.PENDING, EmailStatus.FAILED]))
            )
        ).one()
        oldest_due = await session.scalar(
            select(func.min(OutboxEmail.next_attempt_at)).where(
                OutboxEmail.status == EmailStatus.PENDING, OutboxEmail.next_attempt_at <= now
            )
        )
    if isinstance(oldest_due, str):
        # SQLite hands an aggregate back as text, without the column type's conversion.
        oldest_due = datetime.fromisoformat(oldest_due)
    if oldest_due is not None and oldest_due.tzinfo is None:
        oldest_due = oldest_due.replace(tzinfo=now.tzinfo)
    return OutboxState(
        pending=int(counts[0]),
        retrying=int(counts[1]),
        failed=int(counts[2]),
        oldest_due=oldest_due,
    )


class OutboxCollector(Collector):
    """The outbox as the database holds it now (the same for every worker, so read once)."""

    def __init__(self, state: OutboxState | None) -> None:
        self.state = state

    def collect(self) -> Iterator[Metric]:
        reachable = GaugeMetricFamily(
            "clientarea_outbox_readable", "Whether the scrape could read the outbox table (1) or not (0)."
        )
        reachable.add_metric([], 0 if self.state is None else 1)
        yield reachable
        if self.state is None:
            return
        state = self.state
        age = 0.0 if state.oldest_due is None else max((utcnow() - state.oldest_due).total_seconds(), 0.0)
        for name, documentation, value in (
            (
                "clientarea_outbox_backlog",
                "Emails waiting to be sent (due or retrying later).",
                state.pending,
            ),
            (
                "clientarea_outbox_retrying",
                "Emails waiting to be sent after at least one failed delivery attempt.",
                state.retrying,
            ),
            (
                "clientarea_outbox_delivery_failures",
                "Emails given up after their last delivery attempt failed.",
                state.failed,
            ),
            (
                "clientarea_outbox_oldest_due_age_seconds",
                "How long the oldest email that is due has been waiting (0: none is due).",
                age,
            ),
        ):
            family = GaugeMetricFamily(name, documentation)
            family.add_metric([], value)
            yield family
