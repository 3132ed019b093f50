"""
Fewer indexes on django-oauth-toolkit's access-token table (PostgreSQL only), which takes one row per
grant and holds millions:

- the `LIKE` twin of the token_checksum index goes: tokens are found by equality, which the unique
  index serves;
- user_id, id_token_id and source_refresh_token_id are NULL on every client-credentials token, so
  their indexes become partial (WHERE ... IS NOT NULL): the same lookups and the same uniqueness for
  the rows that have them, and nothing to write or store for the rows that do not.

A grant then updates three indexes (primary key, token_checksum, application_id) instead of seven.
django-oauth-toolkit's own model state is unchanged; docs/decisions.md ("Fewer indexes") says what an upgrade of
django-oauth-toolkit must check.
"""

from django.db import migrations

TABLE = "oauth2_provider_accesstoken"

SLIM = [
    "DROP INDEX IF EXISTS oauth2_provider_accesstoken_token_checksum_85319a26_like",
    "DROP INDEX IF EXISTS oauth2_provider_accesstoken_user_id_6e4c9a65",
    f"CREATE INDEX accesstoken_user_partial ON {TABLE} (user_id) WHERE user_id IS NOT NULL",
    f"ALTER TABLE {TABLE} DROP CONSTRAINT IF EXISTS oauth2_provider_accesstoken_id_token_id_key",
    f"CREATE UNIQUE INDEX accesstoken_id_token_partial ON {TABLE} (id_token_id) WHERE id_token_id IS NOT NULL",
    f"ALTER TABLE {TABLE} DROP CONSTRAINT IF EXISTS oauth2_provider_accesstoken_source_refresh_token_id_key",
    f"CREATE UNIQUE INDEX accesstoken_source_refresh_token_partial ON {TABLE} (source_refresh_token_id) "
    "WHERE source_refresh_token_id IS NOT NULL",
]

RESTORE = [
    "DROP INDEX IF EXISTS accesstoken_user_partial",
    "DROP INDEX IF EXISTS accesstoken_id_token_partial",
    "DROP INDEX IF EXISTS accesstoken_source_refresh_token_partial",
    f"CREATE INDEX oauth2_provider_accesstoken_token_checksum_85319a26_like ON {TABLE} "
    "(token_checksum varchar_pattern_ops)",
    f"CREATE INDEX oauth2_provider_accesstoken_user_id_6e4c9a65 ON {TABLE} (user_id)",
    f"ALTER TABLE {TABLE} ADD CONSTRAINT oauth2_provider_accesstoken_id_token_id_key UNIQUE (id_token_id)",
    f"ALTER TABLE {TABLE} ADD CONSTRAINT oauth2_provider_accesstoken_source_refresh_token_id_key "
    "UNIQUE (source_refresh_token_id)",
]


def run(statements):
    def apply(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return  # the SQLite quickstart keeps django-oauth-toolkit's indexes
        for statement in statements:
            schema_editor.execute(statement)

    return apply


class Migration(migrations.Migration):
    dependencies = [
        ("authapi", "0001_signing_keys"),
        ("oauth2_provider", "0022_refreshtoken_token_family_index"),
    ]

    operations = [migrations.RunPython(run(SLIM), run(RESTORE))]
