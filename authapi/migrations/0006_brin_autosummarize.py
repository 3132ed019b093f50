"""The access-token BRIN index summarises each block range as soon as it fills (autovacuum work items), not
only at the next VACUUM: the dashboard reads the current hour's tokens (authapi.issuance), the newest rows,
and an unsummarised range is read whole. PostgreSQL only, like the index."""

from django.db import migrations

ON = "ALTER INDEX IF EXISTS accesstoken_created_brin SET (autosummarize = on)"
OFF = "ALTER INDEX IF EXISTS accesstoken_created_brin RESET (autosummarize)"


def run(statement):
    def apply(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(statement)

    return apply


class Migration(migrations.Migration):
    dependencies = [("authapi", "0005_token_issuance")]

    operations = [migrations.RunPython(run(ON), run(OFF))]
