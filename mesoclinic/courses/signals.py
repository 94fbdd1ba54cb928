"""``appointment_changed``: sent inside the transaction that books, moves or changes the
status of an appointment, with ``appointment`` and ``change`` ("booked", "moved",
"cancelled", "attended", "no_show") and the ``actor`` who made the change. The reminders
and screening apps listen, so that the outbox and the screening follow
the schedule in the same transaction, without this app knowing about either."""

from django.dispatch import Signal

appointment_changed = Signal()
