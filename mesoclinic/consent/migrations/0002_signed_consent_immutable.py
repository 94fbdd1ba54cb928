"""What a patient signed never changes: the database itself refuses any UPDATE or DELETE of a
signed consent document, and any UPDATE or DELETE of a withdrawal, from whatever SQL runs,
not only through the models (which refuse them too).

A draft (signed_at IS NULL) may be updated, signed (the one UPDATE of an unsigned row that
sets signed_at) or deleted. PostgreSQL: a trigger function; SQLite: triggers that abort.
"""

from django.db import migrations

DOCUMENT = "consent_consentdocument"
WITHDRAWAL = "consent_consentwithdrawal"
SIGNED = "a signed consent document cannot be changed or deleted"
RECORDED = "a consent withdrawal cannot be changed or deleted"

PG_FORWARD = [
    f"""
CREATE OR REPLACE FUNCTION consent_signed_immutable() RETURNS trigger AS $$
BEGIN
    IF TG_TABLE_NAME = '{WITHDRAWAL}' OR OLD.signed_at IS NOT NULL THEN
        RAISE EXCEPTION '%: % refused on %', CASE WHEN TG_TABLE_NAME = '{WITHDRAWAL}'
            THEN '{RECORDED}' ELSE '{SIGNED}' END, TG_OP, TG_TABLE_NAME
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql
""",
    f"""CREATE TRIGGER consent_document_signed_immutable
        BEFORE UPDATE OR DELETE ON {DOCUMENT}
        FOR EACH ROW EXECUTE FUNCTION consent_signed_immutable()""",
    f"""CREATE TRIGGER consent_withdrawal_immutable
        BEFORE UPDATE OR DELETE ON {WITHDRAWAL}
        FOR EACH ROW EXECUTE FUNCTION consent_signed_immutable()""",
]
PG_BACKWARD = [
    f"DROP TRIGGER IF EXISTS consent_withdrawal_immutable ON {WITHDRAWAL}",
    f"DROP TRIGGER IF EXISTS consent_document_signed_immutable ON {DOCUMENT}",
    "DROP FUNCTION IF EXISTS consent_signed_immutable()",
]

SQLITE_FORWARD = [
    f"""CREATE TRIGGER consent_document_signed_no_{event.lower()}
BEFORE {event} ON {DOCUMENT}
WHEN OLD.signed_at IS NOT NULL
BEGIN
    SELECT RAISE(ABORT, '{SIGNED}');
END"""
    for event in ("UPDATE", "DELETE")
] + [
    f"""CREATE TRIGGER consent_withdrawal_no_{event.lower()}
BEFORE {event} ON {WITHDRAWAL}
BEGIN
    SELECT RAISE(ABORT, '{RECORDED}');
END"""
    for event in ("UPDATE", "DELETE")
]
SQLITE_BACKWARD = [
    f"DROP TRIGGER IF EXISTS consent_{table}_{event}"
    for table in ("document_signed_no", "withdrawal_no")
    for event in ("update", "delete")
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
    dependencies = [("consent", "0001_initial")]

    operations = [migrations.RunPython(forward, backward)]
