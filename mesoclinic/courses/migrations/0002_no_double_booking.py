"""No practitioner and no room is booked twice at once, enforced by the database itself so
that two requests racing each other cannot both win.

PostgreSQL: exclusion constraints over the booked time range (btree_gist lets the = on the
practitioner or room sit in the same GiST index as the && on the range).
SQLite: triggers that abort an insert or update overlapping a slot already held. Datetimes are
stored as UTC text of one format, so comparing the strings compares the instants.
A cancelled appointment ('cancelled') holds no slot.
"""

from django.db import migrations

PG_FORWARD = [
    "CREATE EXTENSION IF NOT EXISTS btree_gist",
    """ALTER TABLE courses_appointment ADD CONSTRAINT courses_appointment_practitioner_free
       EXCLUDE USING gist (practitioner_id WITH =, tstzrange(starts_at, ends_at, '[)') WITH &&)
       WHERE (status <> 'cancelled')""",
    """ALTER TABLE courses_appointment ADD CONSTRAINT courses_appointment_room_free
       EXCLUDE USING gist (room_id WITH =, tstzrange(starts_at, ends_at, '[)') WITH &&)
       WHERE (status <> 'cancelled' AND room_id IS NOT NULL)""",
]
PG_BACKWARD = [
    "ALTER TABLE courses_appointment DROP CONSTRAINT IF EXISTS courses_appointment_room_free",
    "ALTER TABLE courses_appointment DROP CONSTRAINT IF EXISTS courses_appointment_practitioner_free",
]


def _sqlite_trigger(event: str, column: str) -> str:
    same_row = "AND a.id <> NEW.id" if event == "UPDATE" else ""
    return f"""
CREATE TRIGGER courses_appointment_{column}_free_{event.lower()}
BEFORE {event} ON courses_appointment
WHEN NEW.status <> 'cancelled' AND NEW.{column} IS NOT NULL
BEGIN
    SELECT RAISE(ABORT, 'courses_appointment_{column}_free: slot already booked')
    WHERE EXISTS (
        SELECT 1 FROM courses_appointment AS a
        WHERE a.{column} = NEW.{column} AND a.status <> 'cancelled' {same_row}
          AND a.starts_at < NEW.ends_at AND a.ends_at > NEW.starts_at
    );
END"""


SQLITE_FORWARD = [
    _sqlite_trigger(event, column)
    for event in ("INSERT", "UPDATE")
    for column in ("practitioner_id", "room_id")
]
SQLITE_BACKWARD = [
    f"DROP TRIGGER IF EXISTS courses_appointment_{column}_free_{event.lower()}"
    for event in ("INSERT", "UPDATE")
    for column in ("practitioner_id", "room_id")
]


def forward(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    for statement in {"postgresql": PG_FORWARD, "sqlite": SQLITE_FORWARD}.get(vendor, []):
        schema_editor.execute(statement, params=None)


def backward(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    for statement in {"postgresql": PG_BACKWARD, "sqlite": SQLITE_BACKWARD}.get(vendor, []):
        schema_editor.execute(statement, params=None)


class Migration(migrations.Migration):
    dependencies = [("courses", "0001_initial")]

    operations = [migrations.RunPython(forward, backward)]
