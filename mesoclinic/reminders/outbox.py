"""Sending the outbox: what ``mesoclinic worker`` runs.

Several workers may run at once. A worker claims a small batch of due reminders in a short
transaction: status ``sending``, its name in ``claimed_by`` and a lease in ``claimed_until``.
On PostgreSQL ``SELECT ... FOR UPDATE SKIP LOCKED`` lets each claimer pass over the rows
another is claiming; on SQLite the transaction takes the write lock at its start
(IMMEDIATE), so claimers simply take turns. A reminder whose lease ran out (its worker was
killed mid-send) can be claimed again, so none is lost.

Every later write is conditional on the row still being this worker's (``status=sending``
and ``claimed_by``): a reminder moved, cancelled or taken over meanwhile is never recorded
sent by the worker that lost it, so none is recorded twice. A crash between the mail server's
acceptance and that write means the message goes out again; it carries the same Message-ID,
stored at the first attempt, so the copy is recognisable.
"""

from __future__ import annotations

import logging
import os
import smtplib
import socket
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.utils import make_msgid, parseaddr

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.core.mail.backends.base import BaseEmailBackend
from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.dispatch import Signal
from django.utils import timezone

from mesoclinic.reminders import planner, services
from mesoclinic.reminders.models import Reminder, ReminderStatus

logger = logging.getLogger(__name__)

# Sent at the end of each pass of ``mesoclinic worker``: later apps hang their periodic
# sweeps on it (the follow-up's 72-hour check), since this app cannot import them.
worker_passed = Signal()

BATCH = 10
LEASE = timedelta(minutes=5)
# A send that outlasts the lease could be taken over and sent twice: the mail server gets
# at most this long, or the lease if that is shorter.
SEND_TIMEOUT = 60
# Ten attempts 1, 2, 4... minutes apart, then hourly: about four hours of a mail server's
# outage before a reminder is marked failed.
MAX_ATTEMPTS = 10
BACKOFF_BASE = timedelta(minutes=1)
BACKOFF_CAP = timedelta(hours=1)


def backoff(attempts: int) -> timedelta:
    """How long to wait after the ``attempts``-th failed attempt."""
    return min(BACKOFF_BASE * 2 ** max(attempts - 1, 0), BACKOFF_CAP)


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def message_domain() -> str:
    return parseaddr(settings.DEFAULT_FROM_EMAIL)[1].rpartition("@")[2] or "localhost"


def is_permanent(error: Exception) -> bool:
    """The server refused the address itself (5xx): trying again cannot help."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _ in error.recipients.values())
    return False


def _describe(error: Exception) -> str:
    return f"{type(error).__name__}: {error}"[:1000]


@dataclass
class Worker:
    name: str = field(default_factory=worker_name)
    batch: int = BATCH
    lease: timedelta = LEASE
    stopping: Callable[[], bool] = lambda: False
    clock: Callable[[], datetime] = timezone.now

    def _mine(self, reminder: Reminder) -> QuerySet[Reminder]:
        return Reminder.objects.filter(
            pk=reminder.pk, status=ReminderStatus.SENDING, claimed_by=self.name
        )

    def claim(self) -> list[Reminder]:
        """Take up to ``batch`` due reminders, oldest first; each claim counts as an attempt,
        so that one that kills its worker every time still runs out of attempts."""
        now = self.clock()
        due = Q(status=ReminderStatus.PENDING, next_attempt_at__lte=now) | Q(
            status=ReminderStatus.SENDING, claimed_until__lt=now
        )
        with transaction.atomic():
            ids = list(
                Reminder.objects.select_for_update(skip_locked=True)
                .filter(due)
                .order_by("next_attempt_at", "pk")
                .values_list("pk", flat=True)[: self.batch]
            )
            if not ids:
                return []
            Reminder.objects.filter(due, pk__in=ids).update(
                status=ReminderStatus.SENDING,
                claimed_by=self.name,
                claimed_until=now + self.lease,
                attempts=F("attempts") + 1,
            )
        return list(
            Reminder.objects.filter(
                pk__in=ids, status=ReminderStatus.SENDING, claimed_by=self.name
            ).select_related("clinic", "patient", "appointment", "maintenance")
        )

    def release(self, reminders: list[Reminder]) -> None:
        """Hand back claimed reminders not tried (the worker is stopping)."""
        Reminder.objects.filter(
            pk__in=[r.pk for r in reminders], status=ReminderStatus.SENDING, claimed_by=self.name
        ).update(
            status=ReminderStatus.PENDING,
            claimed_by="",
            claimed_until=None,
            attempts=F("attempts") - 1,
        )

    def _close(self, reminder: Reminder, status: ReminderStatus, reason: str) -> str:
        self._mine(reminder).update(
            status=status, last_error=reason, claimed_by="", claimed_until=None
        )
        return str(status)

    def _failed(self, reminder: Reminder, error: Exception) -> str:
        # The error's text may hold the address: it goes to the row, which staff see, not
        # to the log.
        logger.warning(
            "Reminder %s not sent (attempt %s): %s",
            reminder.pk,
            reminder.attempts,
            type(error).__name__,
        )
        if is_permanent(error) or reminder.attempts >= MAX_ATTEMPTS:
            return self._close(reminder, ReminderStatus.FAILED, _describe(error))
        self._mine(reminder).update(
            status=ReminderStatus.PENDING,
            last_error=_describe(error),
            next_attempt_at=self.clock() + backoff(reminder.attempts),
            claimed_by="",
            claimed_until=None,
        )
        return "retrying"

    def send(self, reminder: Reminder, connection: BaseEmailBackend) -> str:
        """Send one claimed reminder; the outcome: sent, retrying, failed, cancelled or lost
        (no longer this worker's)."""
        reason = services.stale_reason(reminder, self.clock())
        if reason is not None:
            return self._close(reminder, ReminderStatus.CANCELLED, reason)
        if reminder.attempts > MAX_ATTEMPTS:
            return self._close(
                reminder,
                ReminderStatus.FAILED,
                f"Given up after {MAX_ATTEMPTS} attempts, the last cut short by its worker "
                "stopping mid-send.",
            )
        if not reminder.recipient:
            return self._close(reminder, ReminderStatus.FAILED, planner.NO_ADDRESS)
        message_id = reminder.message_id or make_msgid(
            idstring=f"reminder-{reminder.pk}", domain=message_domain()
        )
        # Renewed just before sending, so that the lease covers this send however long the
        # batch took; and a reminder moved or cancelled since the claim is left alone.
        if not self._mine(reminder).update(
            claimed_until=self.clock() + self.lease, message_id=message_id
        ):
            return "lost"
        payload = reminder.payload
        email = EmailMessage(
            subject=payload["subject"],
            body=payload["body"],
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[reminder.recipient],
            reply_to=[reminder.clinic.email] if reminder.clinic.email else None,
            headers={
                "Message-ID": message_id,
                "Auto-Submitted": "auto-generated",
                "Content-Language": payload.get("language", "en"),
            },
            connection=connection,
        )
        try:
            email.send()
        except Exception as error:  # whatever the backend raises, the reminder must survive
            return self._failed(reminder, error)
        # ``claimed_by`` stays: the worker that sent it.
        if not self._mine(reminder).update(
            status=ReminderStatus.SENT, sent_at=self.clock(), last_error="", claimed_until=None
        ):
            logger.warning(
                "Reminder %s was sent, but was moved, cancelled or taken over meanwhile.",
                reminder.pk,
            )
            return "lost"
        return "sent"

    def run_pass(self) -> Counter[str]:
        """Send everything due now, a batch at a time, unless asked to stop; a stop waits
        for the message being sent and hands back the rest of the batch."""
        outcomes: Counter[str] = Counter()
        # Each message opens its own connection (as Django's SMTP backend does when not
        # opened first): a server that drops one connection fails one message, not the batch.
        connection = get_connection(
            timeout=min(SEND_TIMEOUT, max(1, int(self.lease.total_seconds())))
        )
        while not self.stopping():
            batch = self.claim()
            for index, reminder in enumerate(batch):
                if self.stopping():
                    self.release(batch[index:])
                    break
                outcomes[self.send(reminder, connection)] += 1
            if len(batch) < self.batch:
                break
        worker_passed.send(sender=Worker)
        return outcomes
