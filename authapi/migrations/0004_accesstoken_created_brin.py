"""
A BRIN index on django-oauth-toolkit's access-token `created` (PostgreSQL only), for the console dashboard's
tokens-per-hour chart: the last 24 hours of a table of millions read by block range, not scanned whole.

BRIN because the column only grows (rows are appended in time order): the index is a few pages, and an
insert costs it next to nothing, so token issuance keeps its speed (a B-tree would be one more index
updated on every grant; docs/decisions.md, "Fewer indexes").
"""

from django.db import migrations

CREATE = "CREATE INDEX IF NOT EXISTS accesstoken_created_brin ON oauth2_provider_accesstoken USING brin (created)"
DROP = "DROP INDEX IF EXISTS accesstoken_created_brin"


def run(statement):
    def apply(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":  # the SQLite quickstart has few tokens
            schema_editor.execute(statement)

    return apply


class Migration(migrations.Migration):
    dependencies = [("authapi", "0003_signing_key_revocation")]

    operations = [migrations.RunPython(run(CREATE), run(DROP))]
