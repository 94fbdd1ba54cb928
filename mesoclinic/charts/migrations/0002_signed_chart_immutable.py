"""A signed chart never changes, whatever SQL runs: the database refuses any UPDATE or DELETE
of a signed chart, any INSERT, UPDATE or DELETE of a row under it (syringes, lots, areas,
points, photos), and any UPDATE or DELETE of an amendment, which may only be added to a
signed chart. The models refuse the same, with a clearer message; these triggers are what
stops a hand-written query or another program using the application's database role.

A draft chart and its rows change freely; signing is the one UPDATE of an unsigned chart
that sets signed_at. PostgreSQL: trigger functions; SQLite: triggers that abort.
"""

from django.db import migrations

CHART = "charts_chart"
PARTS = (
    "charts_syringe",
    "charts_syringelot",
    "charts_areatreatment",
    "charts_injectionpoint",
    "charts_chartphoto",
)
AMENDMENT = "charts_chartamendment"
SIGNED = "a signed chart cannot be changed or deleted"
PART = "the rows of a signed chart cannot be added, changed or deleted"
AMENDED = "an amendment cannot be changed or deleted"
UNSIGNED = "only a signed chart takes amendments"

PG_FORWARD = [
    f"""
CREATE OR REPLACE FUNCTION charts_chart_immutable() RETURNS trigger AS $$
BEGIN
    IF OLD.signed_at IS NOT NULL THEN
        RAISE EXCEPTION '{SIGNED}: % refused', TG_OP
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql
""",
    f"""
CREATE OR REPLACE FUNCTION charts_part_immutable() RETURNS trigger AS $$
BEGIN
    IF (TG_OP <> 'INSERT' AND EXISTS (
            SELECT 1 FROM {CHART} WHERE id = OLD.chart_id AND signed_at IS NOT NULL))
       OR (TG_OP <> 'DELETE' AND EXISTS (
            SELECT 1 FROM {CHART} WHERE id = NEW.chart_id AND signed_at IS NOT NULL)) THEN
        RAISE EXCEPTION '{PART}: % on % refused', TG_OP, TG_TABLE_NAME
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql
""",
    f"""
CREATE OR REPLACE FUNCTION charts_amendment_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        RAISE EXCEPTION '{AMENDED}: % refused', TG_OP
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM {CHART} WHERE id = NEW.chart_id AND signed_at IS NOT NULL) THEN
        RAISE EXCEPTION '{UNSIGNED}' USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql
""",
    f"""CREATE TRIGGER charts_chart_immutable BEFORE UPDATE OR DELETE ON {CHART}
        FOR EACH ROW EXECUTE FUNCTION charts_chart_immutable()""",
    *(
        f"""CREATE TRIGGER {table}_immutable BEFORE INSERT OR UPDATE OR DELETE ON {table}
        FOR EACH ROW EXECUTE FUNCTION charts_part_immutable()"""
        for table in PARTS
    ),
    f"""CREATE TRIGGER charts_amendment_append_only
        BEFORE INSERT OR UPDATE OR DELETE ON {AMENDMENT}
        FOR EACH ROW EXECUTE FUNCTION charts_amendment_append_only()""",
]
PG_BACKWARD = [
    f"DROP TRIGGER IF EXISTS charts_amendment_append_only ON {AMENDMENT}",
    *(f"DROP TRIGGER IF EXISTS {table}_immutable ON {table}" for table in PARTS),
    f"DROP TRIGGER IF EXISTS charts_chart_immutable ON {CHART}",
    "DROP FUNCTION IF EXISTS charts_amendment_append_only()",
    "DROP FUNCTION IF EXISTS charts_part_immutable()",
    "DROP FUNCTION IF EXISTS charts_chart_immutable()",
]


def _signed(row: str) -> str:
    return f"EXISTS (SELECT 1 FROM {CHART} WHERE id = {row}.chart_id AND signed_at IS NOT NULL)"


SQLITE_FORWARD = [
    *(
        f"""CREATE TRIGGER charts_chart_no_{event.lower()} BEFORE {event} ON {CHART}
WHEN OLD.signed_at IS NOT NULL
BEGIN SELECT RAISE(ABORT, '{SIGNED}'); END"""
        for event in ("UPDATE", "DELETE")
    ),
    *(
        f"""CREATE TRIGGER {table}_no_{event.lower()} BEFORE {event} ON {table}
WHEN {condition}
BEGIN SELECT RAISE(ABORT, '{PART}'); END"""
        for table in PARTS
        for event, condition in (
            ("INSERT", _signed("NEW")),
            ("UPDATE", f"{_signed('OLD')} OR {_signed('NEW')}"),
            ("DELETE", _signed("OLD")),
        )
    ),
    *(
        f"""CREATE TRIGGER charts_amendment_no_{event.lower()} BEFORE {event} ON {AMENDMENT}
BEGIN SELECT RAISE(ABORT, '{AMENDED}'); END"""
        for event in ("UPDATE", "DELETE")
    ),
    f"""CREATE TRIGGER charts_amendment_signed_only BEFORE INSERT ON {AMENDMENT}
WHEN NOT {_signed("NEW")}
BEGIN SELECT RAISE(ABORT, '{UNSIGNED}'); END""",
]
SQLITE_BACKWARD = [
    "DROP TRIGGER IF EXISTS charts_amendment_signed_only",
    *(f"DROP TRIGGER IF EXISTS charts_amendment_no_{event}" for event in ("update", "delete")),
    *(
        f"DROP TRIGGER IF EXISTS {table}_no_{event}"
        for table in PARTS
        for event in ("insert", "update", "delete")
    ),
    *(f"DROP TRIGGER IF EXISTS charts_chart_no_{event}" for event in ("update", "delete")),
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
    dependencies = [("charts", "0001_initial")]

    operations = [migrations.RunPython(forward, backward)]
