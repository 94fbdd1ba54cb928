"""On PostgreSQL, the audit log refuses UPDATE and DELETE from any SQL the application runs,
not only through the ORM. (SQLite has no roles; there the model refuses them.)"""

from django.db import migrations

FORWARD = """
CREATE OR REPLACE FUNCTION mesoclinic_audit_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'The audit log is append-only: % is not allowed on %', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER clinics_auditevent_append_only
    BEFORE UPDATE OR DELETE ON clinics_auditevent
    FOR EACH ROW EXECUTE FUNCTION mesoclinic_audit_append_only();
"""

BACKWARD = """
DROP TRIGGER IF EXISTS clinics_auditevent_append_only ON clinics_auditevent;
DROP FUNCTION IF EXISTS mesoclinic_audit_append_only();
"""


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FORWARD, params=None)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BACKWARD, params=None)


class Migration(migrations.Migration):
    dependencies = [("clinics", "0002_accounts_licences_audit")]

    operations = [migrations.RunPython(forward, backward)]
