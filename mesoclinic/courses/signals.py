"""``appointment_changed``: sent inside the transaction that books, moves or changes the
status of an appointment, with ``appointment`` and ``change`` ("booked", "moved",
"cancelled", "attended", "no_show"). The reminders app listens, so that its outbox follows
the schedule in the same transaction, without this app knowing about reminders."""

from django.dispatch import Signal

appointment_changed = Signal()
