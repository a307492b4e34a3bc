"""Queueing email: a row in the caller's transaction, delivered later by the mailer."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy.ext.asyncio import AsyncSession

from models.outbox import OutboxEmail
from resolvers.core.emails import render


def enqueue(
    session: AsyncSession,
    *,
    to: str,
    template: str,
    language: str,
    params: Mapping[str, str],
) -> OutboxEmail:
    """Adds the message to the unit of work: it is sent exactly when the change commits."""
    message = render(template, language, params)
    row = OutboxEmail(
        to_address=to,
        subject=message.subject,
        text_body=message.text,
        html_body=message.html,
        template=template,
    )
    session.add(row)
    return row
