"""The worker against a real SMTP server: due reminders arrive once, failures are retried with
backoff, several workers never share a reminder, and a worker killed mid-send loses nothing and
records nothing twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from io import StringIO
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.core.mail import get_connection
from django.core.management import CommandError, call_command
from django.db import OperationalError, connection, transaction
from django.utils import timezone

from mesoclinic.clinics.models import User
from mesoclinic.courses import booking
from mesoclinic.courses.models import Appointment
from mesoclinic.patients.models import Patient
from mesoclinic.reminders import outbox, services
from mesoclinic.reminders.models import Reminder, ReminderKind, ReminderStatus
from mesoclinic.reminders.outbox import Worker
from mesoclinic.reminders.tests.conftest import local, weekday_ahead
from mesoclinic.reminders.tests.smtp import Inbox, wait_for

is_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="SKIP LOCKED is PostgreSQL's"
)


def book_sessions(
    patient: Patient, practitioner: User, count: int, first: int = 0
) -> list[Appointment]:
    """``count`` half-hour sessions a fortnight or more ahead, one after another, from the
    ``first`` slot of the day."""
    clinic = patient.clinic
    day = weekday_ahead(clinic, 14)
    starts = [local(clinic, day, 9) + timedelta(minutes=30 * n) for n in range(7)]
    starts += [local(clinic, day, 13, 30) + timedelta(minutes=30 * n) for n in range(9)]
    return [
        booking.book(
            patient=patient,
            practitioner=practitioner,
            starts_at=start,
            minutes=30,
            actor=practitioner,
        )
        for start in starts[first : first + count]
    ]


def make_due(appointments: list[Appointment], now: datetime | None = None) -> list[Reminder]:
    """Their reminders, due a minute ago as if their time had come."""
    past = (now or timezone.now()) - timedelta(minutes=1)
    reminders = Reminder.objects.filter(appointment__in=appointments)
    reminders.update(due_at=past, next_attempt_at=past)
    return list(reminders.order_by("pk"))


def at(moment: datetime) -> Callable[[], datetime]:
    """A clock stopped at ``moment``."""
    return lambda: moment


def statuses() -> Counter[str]:
    return Counter(Reminder.objects.values_list("status", flat=True))


def test_due_reminders_arrive_once_with_their_own_message_id(
    smtp_server: Inbox, bookable_pat: User, patient: Patient
) -> None:
    due = make_due(book_sessions(patient, bookable_pat, 2))
    later = book_sessions(patient, bookable_pat, 1, first=2)

    assert Worker().run_pass() == {"sent": 6}
    assert Worker().run_pass() == {}

    assert len(smtp_server.received) == 6
    by_id = {str(m["Message-ID"]): m for m in smtp_server.received}
    for reminder in due:
        reminder.refresh_from_db()
        assert reminder.status == ReminderStatus.SENT
        assert reminder.sent_at is not None and reminder.attempts == 1
        assert f"reminder-{reminder.pk}@" in reminder.message_id
        message = by_id[reminder.message_id]
        assert message["To"] == patient.email
        assert message["Subject"] == reminder.payload["subject"]
        assert message["Content-Language"] == "en"
        assert message["Auto-Submitted"] == "auto-generated"
        assert message.get_content().replace("\r\n", "\n") == reminder.payload["body"]
    assert {r.status for r in later[0].reminders.all()} == {ReminderStatus.PENDING}


def test_a_temporary_refusal_is_retried_after_a_growing_wait(
    smtp_server: Inbox, bookable_pat: User, patient: Patient
) -> None:
    appointment = book_sessions(patient, bookable_pat, 1)[0]
    now = timezone.now()
    reminder = make_due([appointment], now)[0]
    Reminder.objects.exclude(pk=reminder.pk).delete()
    smtp_server.temporary_failures = 2

    assert Worker(clock=at(now)).run_pass() == {"retrying": 1}
    reminder.refresh_from_db()
    assert (reminder.status, reminder.attempts) == (ReminderStatus.PENDING, 1)
    assert reminder.next_attempt_at == now + timedelta(minutes=1)
    assert "451" in reminder.last_error and reminder.claimed_by == ""

    # Not before its time.
    assert Worker(clock=at(now + timedelta(seconds=59))).run_pass() == {}

    assert Worker(clock=at(now + timedelta(minutes=1))).run_pass() == {"retrying": 1}
    reminder.refresh_from_db()
    assert reminder.next_attempt_at == now + timedelta(minutes=3)

    assert Worker(clock=at(now + timedelta(minutes=3))).run_pass() == {"sent": 1}
    reminder.refresh_from_db()
    assert (reminder.status, reminder.attempts, reminder.last_error) == ("sent", 3, "")
    assert smtp_server.refused == 2
    assert smtp_server.message_ids() == [reminder.message_id]


def test_a_reminder_refused_every_time_fails_after_the_last_attempt(
    smtp_server: Inbox, bookable_pat: User, patient: Patient
) -> None:
    appointment = book_sessions(patient, bookable_pat, 1)[0]
    now = timezone.now()
    reminder = make_due([appointment], now)[0]
    Reminder.objects.exclude(pk=reminder.pk).delete()
    smtp_server.temporary_failures = 1000

    waits = []
    while reminder.status == ReminderStatus.PENDING:
        moment = reminder.next_attempt_at
        Worker(clock=at(moment)).run_pass()
        reminder.refresh_from_db()
        if reminder.status == ReminderStatus.PENDING:
            waits.append((reminder.next_attempt_at - moment) / timedelta(minutes=1))

    assert waits == [1, 2, 4, 8, 16, 32, 60, 60, 60]
    assert (reminder.status, reminder.attempts) == (ReminderStatus.FAILED, outbox.MAX_ATTEMPTS)
    assert "451" in reminder.last_error
    assert list(services.reminders_failed(patient.clinic)) == [reminder]
    assert smtp_server.received == []


def test_a_reminder_whose_last_attempt_died_with_its_worker_is_given_up(
    smtp_server: Inbox, bookable_pat: User, patient: Patient
) -> None:
    """Each claim counts: a reminder that kills every worker sending it is not sent forever."""
    reminder = make_due(book_sessions(patient, bookable_pat, 1))[0]
    Reminder.objects.exclude(pk=reminder.pk).delete()
    Reminder.objects.filter(pk=reminder.pk).update(
        status=ReminderStatus.SENDING,
        claimed_by="dead",
        claimed_until=timezone.now() - timedelta(seconds=1),
        attempts=outbox.MAX_ATTEMPTS,
    )

    assert Worker().run_pass() == {"failed": 1}

    reminder.refresh_from_db()
    assert reminder.status == ReminderStatus.FAILED
    assert reminder.last_error.startswith("Given up after 10 attempts")
    assert smtp_server.received == []


def test_an_address_the_server_refuses_fails_at_once(
    smtp_server: Inbox, bookable_pat: User, patient: Patient
) -> None:
    reminder = make_due(book_sessions(patient, bookable_pat, 1))[0]
    Reminder.objects.exclude(pk=reminder.pk).delete()
    smtp_server.refuse_recipients = "550 5.1.1 No such mailbox"

    assert Worker().run_pass() == {"failed": 1}

    reminder.refresh_from_db()
    assert (reminder.status, reminder.attempts) == (ReminderStatus.FAILED, 1)
    assert "550" in reminder.last_error


def test_a_pre_care_reminder_is_not_sent_once_its_session_has_started(
    smtp_server: Inbox, bookable_pat: User, patient: Patient
) -> None:
    appointment = book_sessions(patient, bookable_pat, 1)[0]
    make_due([appointment])
    after_start = appointment.starts_at + timedelta(minutes=5)

    outcomes = Worker(clock=at(after_start)).run_pass()

    assert outcomes == {"cancelled": 2, "sent": 1}
    kinds = {r.kind: (r.status, r.last_error) for r in appointment.reminders.all()}
    stale = (ReminderStatus.CANCELLED, "The session had started before it could be sent.")
    assert kinds[ReminderKind.PRE_CARE] == kinds[ReminderKind.DAY_BEFORE] == stale
    assert smtp_server.received[0]["Subject"] == "How are you after your session?"


def test_a_reminder_moved_after_its_claim_is_neither_sent_nor_marked(
    smtp_server: Inbox, bookable_pat: User, patient: Patient
) -> None:
    appointment = book_sessions(patient, bookable_pat, 1)[0]
    make_due([appointment])
    worker = Worker(batch=1)
    (claimed,) = worker.claim()

    booking.move_appointment(appointment, appointment.starts_at + timedelta(days=1), bookable_pat)

    assert worker.send(claimed, get_connection()) == "lost"
    claimed.refresh_from_db()
    assert claimed.status == ReminderStatus.PENDING and claimed.due_at > timezone.now()
    assert smtp_server.received == []


def test_a_worker_whose_lease_ran_out_cannot_record_the_reminder_sent(
    smtp_server: Inbox, bookable_pat: User, patient: Patient
) -> None:
    reminder = make_due(book_sessions(patient, bookable_pat, 1))[0]
    Reminder.objects.exclude(pk=reminder.pk).delete()
    now = timezone.now()
    slow = Worker(name="slow", lease=timedelta(minutes=5), clock=at(now))
    (claimed,) = slow.claim()
    later = now + timedelta(minutes=6)
    # The claim lapsed: another worker takes the reminder over and sends it.
    assert Worker(name="quick", clock=at(later)).run_pass() == {"sent": 1}

    assert slow.send(claimed, get_connection()) == "lost"

    reminder.refresh_from_db()
    assert (reminder.status, reminder.claimed_by, reminder.attempts) == ("sent", "quick", 2)
    assert len(smtp_server.received) == 1


def test_the_command_sends_once_and_checks_its_options(
    smtp_server: Inbox, bookable_pat: User, patient: Patient
) -> None:
    make_due(book_sessions(patient, bookable_pat, 1))

    call_command("worker", "--once", verbosity=0)

    assert statuses() == {ReminderStatus.SENT: 3}
    assert len(smtp_server.received) == 3
    with pytest.raises(CommandError, match="--batch"):
        call_command("worker", "--once", "--batch", "0")


def test_the_worker_outlives_a_database_error_and_stops_on_sigterm(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    passes: list[int] = []

    def run_pass(self: Worker) -> Counter[str]:
        passes.append(1)
        if len(passes) == 1:
            raise OperationalError("server closed the connection unexpectedly")
        os.kill(os.getpid(), signal.SIGTERM)
        return Counter({"sent": 1})

    monkeypatch.setattr(Worker, "run_pass", run_pass)
    before = signal.getsignal(signal.SIGTERM)
    output = StringIO()

    call_command("worker", "--poll-seconds", "0.01", stdout=output)

    assert len(passes) == 2
    assert output.getvalue().endswith("Reminders: 1 sent.\n")
    assert signal.getsignal(signal.SIGTERM) is before
    passes.clear()
    with pytest.raises(OperationalError):
        call_command("worker", "--once", stdout=output)  # one pass: the error is the answer


@pytest.mark.django_db(transaction=True)
def test_concurrent_workers_never_claim_the_same_reminder(
    bookable_pat: User, patient: Patient
) -> None:
    make_due(book_sessions(patient, bookable_pat, 12))
    start = threading.Barrier(4)
    claims: dict[str, list[int]] = {}

    def claimer(name: str) -> None:
        try:
            worker = Worker(name=name, batch=3)
            start.wait()
            claims[name] = []
            while batch := worker.claim():
                claims[name] += [r.pk for r in batch]
        finally:
            connection.close()

    threads = [threading.Thread(target=claimer, args=(f"w{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    claimed = [pk for pks in claims.values() for pk in pks]
    assert len(claims) == 4
    assert sorted(claimed) == sorted(set(claimed)), "a reminder was claimed twice"
    assert set(claimed) == set(Reminder.objects.values_list("pk", flat=True))
    for name, pks in claims.items():
        assert set(Reminder.objects.filter(pk__in=pks).values_list("claimed_by", flat=True)) <= {
            name
        }


@is_postgresql
@pytest.mark.django_db(transaction=True)
def test_a_claimer_passes_over_rows_another_is_claiming(
    bookable_pat: User, patient: Patient
) -> None:
    due = make_due(book_sessions(patient, bookable_pat, 2))
    held = [r.pk for r in due[:3]]
    locked, release = threading.Event(), threading.Event()

    def hold() -> None:
        try:
            with transaction.atomic():
                list(Reminder.objects.select_for_update().filter(pk__in=held))
                locked.set()
                release.wait(timeout=30)
        finally:
            connection.close()

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert locked.wait(timeout=30)
        claimed = [r.pk for r in Worker(batch=10).claim()]
    finally:
        release.set()
        holder.join(timeout=30)

    assert sorted(claimed) == sorted(r.pk for r in due[3:])


# --- the worker as its own process ---------------------------------------------------------


def database_url() -> str:
    """The test database, for a worker started as another process."""
    settings = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{Path(settings['NAME']).resolve()}"
    parts = urlsplit(os.environ["DATABASE_URL"])
    return urlunsplit(parts._replace(path=f"/{settings['NAME']}"))


def start_worker(inbox: Inbox, tmp_path: Path, *args: str, **kwargs: Any) -> subprocess.Popen[str]:
    env = os.environ | {
        "DATABASE_URL": database_url(),
        "MESOCLINIC_DATA_DIR": str(tmp_path),
        "MESOCLINIC_EMAIL_HOST": "127.0.0.1",
        "MESOCLINIC_EMAIL_PORT": str(inbox.port),
    }
    return subprocess.Popen(  # noqa: S603 - our own command
        [sys.executable, "-m", "mesoclinic", "worker", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kwargs,
    )


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_send_loses_nothing_and_records_nothing_twice(
    smtp_server: Inbox, bookable_pat: User, patient: Patient, tmp_path: Path
) -> None:
    due = make_due(book_sessions(patient, bookable_pat, 2))
    # Slow, but well within the lease (which bounds the time the worker waits for an answer).
    smtp_server.delay = 1.5
    worker = start_worker(
        smtp_server, tmp_path, "--batch", "2", "--lease-seconds", "4", "--poll-seconds", "0.2"
    )
    try:
        # The third message has reached the server, which is slow to answer it.
        wait_for(lambda: len(smtp_server.received) == 3, what="three messages")
    finally:
        worker.kill()
        _, errors = worker.communicate(timeout=30)
    assert worker.returncode == -signal.SIGKILL, errors
    assert statuses() == {
        ReminderStatus.SENT: 2,
        ReminderStatus.SENDING: 2,
        ReminderStatus.PENDING: 2,
    }
    in_flight = Reminder.objects.get(message_id=smtp_server.message_ids()[2])
    assert in_flight.status == ReminderStatus.SENDING

    smtp_server.delay = 0
    leases = Reminder.objects.filter(status=ReminderStatus.SENDING)
    wait_for(
        lambda: all(r.claimed_until and r.claimed_until < timezone.now() for r in leases),
        what="the leases",
    )
    restarted = start_worker(smtp_server, tmp_path, "--once")
    output, errors = restarted.communicate(timeout=60)
    assert restarted.returncode == 0, errors

    assert statuses() == {ReminderStatus.SENT: 6}
    stored = {r.pk: r.message_id for r in Reminder.objects.all()}
    assert set(stored) == {r.pk for r in due}
    arrivals = Counter(smtp_server.message_ids())
    assert set(arrivals) == set(stored.values()), "every reminder reached the server"
    # The one in flight went out again, recognisably the same message; no other did.
    assert arrivals[in_flight.message_id] == 2
    assert sum(arrivals.values()) == 7
    in_flight.refresh_from_db()
    assert (in_flight.status, in_flight.attempts) == (ReminderStatus.SENT, 2)
    assert "Reminders: " in output


@pytest.mark.django_db(transaction=True)
def test_sigterm_stops_the_worker_after_the_message_being_sent(
    smtp_server: Inbox, bookable_pat: User, patient: Patient, tmp_path: Path
) -> None:
    first, *rest = make_due(book_sessions(patient, bookable_pat, 1))
    smtp_server.delay = 1.5
    worker = start_worker(smtp_server, tmp_path, "--batch", "5", "--poll-seconds", "0.2")
    try:
        wait_for(lambda: len(smtp_server.received) == 1, what="the first message")
        worker.send_signal(signal.SIGTERM)
        _, errors = worker.communicate(timeout=30)
    finally:
        worker.kill()
    assert worker.returncode == 0, errors

    first.refresh_from_db()
    assert first.status == ReminderStatus.SENT
    for reminder in rest:
        reminder.refresh_from_db()
        # Handed back untried, for the next worker.
        assert (reminder.status, reminder.attempts, reminder.claimed_by) == ("pending", 0, "")
    assert len(smtp_server.received) == 1
