"""Delivering the outbox: e-mail over SMTP and JSON webhooks, retried until they get through.

A row is claimed with a short lease (so another collector skips it), sent
outside any transaction, then marked sent, or given its next attempt with
exponential backoff. A failed delivery is retried, never dropped; a delivered
one is never sent again. The one gap no outbox can close: a crash after the
mail server accepted a message and before ``sent_at`` was written re-sends it
when the lease expires.
"""

from __future__ import annotations

import logging
import smtplib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import make_msgid

import requests
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from portacare.checks import utc_now

from .db import transaction
from .models import Outbox
from .settings import Settings

__all__ = ["DeliveryReport", "deliver_due", "send_email", "send_webhook"]

log = logging.getLogger("portacare.collector.delivery")
LEASE = timedelta(minutes=2)

Sender = Callable[[Settings, Outbox], None]


@dataclass
class DeliveryReport:
    sent: int = 0
    failed: int = 0


def send_email(settings: Settings, message: Outbox) -> None:
    """Send one outbox row as a plain-text e-mail through the configured SMTP server."""
    smtp = settings.smtp
    email = EmailMessage()
    email["From"] = smtp.sender
    email["To"] = message.recipient
    email["Subject"] = message.subject
    email["Message-ID"] = make_msgid(domain="portacare")
    if message.ticket_id is not None:
        email["X-PortaCare-Ticket"] = str(message.ticket_id)
    email.set_content(message.body)
    client_class = smtplib.SMTP_SSL if smtp.ssl else smtplib.SMTP
    with client_class(smtp.host, smtp.port, timeout=smtp.timeout) as client:
        if smtp.starttls and not smtp.ssl:
            client.starttls()
        if smtp.username:
            client.login(smtp.username, smtp.password() or "")
        client.send_message(email)


def send_webhook(settings: Settings, message: Outbox) -> None:
    """POST the notification as JSON (``text`` for Slack/Teams-style receivers)."""
    response = requests.post(message.recipient, json=message.payload, timeout=settings.smtp.timeout)
    if not 200 <= response.status_code < 300:
        raise RuntimeError(f"webhook answered HTTP {response.status_code}: {response.text[:200]}")


SENDERS: dict[str, Sender] = {"email": send_email, "webhook": send_webhook}


def deliver_due(
    factory: sessionmaker[Session],
    settings: Settings,
    *,
    limit: int = 100,
    clock: Callable[[], datetime] = utc_now,
    senders: dict[str, Sender] | None = None,
) -> DeliveryReport:
    """Send what is due now; each row once, failures rescheduled."""
    senders = senders or SENDERS
    report = DeliveryReport()
    now = clock()
    lease = now + LEASE
    with transaction(factory) as session:
        rows = session.scalars(
            select(Outbox)
            .where(
                Outbox.sent_at.is_(None),
                (Outbox.next_attempt_at.is_(None)) | (Outbox.next_attempt_at <= now),
                (Outbox.claimed_until.is_(None)) | (Outbox.claimed_until < now),
            )
            .order_by(Outbox.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).all()
        for row in rows:
            row.claimed_until = lease
        session.flush()
        session.expunge_all()  # plain records from here on: sending happens outside the transaction
    for row in rows:
        try:
            senders[row.channel](settings, row)
        except Exception as exc:  # noqa: BLE001 - any failure means: try again later
            report.failed += 1
            _reschedule(factory, settings, row, lease, exc, clock())
            continue
        report.sent += 1
        with transaction(factory) as session:
            session.execute(
                update(Outbox)
                .where(Outbox.id == row.id, Outbox.claimed_until == lease)
                .values(sent_at=clock(), claimed_until=None, attempts=row.attempts + 1)
            )
    return report


def _reschedule(
    factory: sessionmaker[Session],
    settings: Settings,
    row: Outbox,
    lease: datetime,
    exc: Exception,
    now: datetime,
) -> None:
    attempts = row.attempts + 1
    delay = min(settings.retry_cap, settings.retry_base * 2 ** (attempts - 1))
    log.warning(
        "delivery of outbox %d to %s failed (attempt %d): %s; next try in %.0fs",
        row.id,
        row.recipient,
        attempts,
        exc,
        delay,
    )
    with transaction(factory) as session:
        session.execute(
            update(Outbox)
            .where(Outbox.id == row.id, Outbox.claimed_until == lease)
            .values(
                attempts=attempts,
                claimed_until=None,
                next_attempt_at=now + timedelta(seconds=delay),
                last_error=f"{type(exc).__name__}: {exc}"[:2000],
            )
        )
