"""
Bulk seeding for the scale benchmark, in plain SQL (not through the API, which would take hours):
participants are copies of one onboarded through the services (organisation, OAuth client, record,
key: every column as the services wrote it), with their own ids, names and client IDs; tokens are
rows of django-oauth-toolkit's table spread over those clients.
"""

import psycopg

ROLES = ["LENDER", "LOAN_AGENT", "KYC_PARTNER", "DISBURSEMENT_PARTNER", "COLLECTIONS_PARTNER", "DERIVED_DATA_PARTNER"]


def _columns(conn, table: str, skip: tuple = ()) -> list[str]:
    rows = conn.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = %s ORDER BY ordinal_position",
        [table],
    ).fetchall()
    return [name for (name,) in rows if name not in skip]


def _copy(conn, table: str, source: str, where: str, overrides: dict, params: dict, skip: tuple = ()) -> int:
    """INSERT INTO table SELECT (each column from the template row `t`, or its override) FROM source."""
    columns = _columns(conn, table, skip)
    values = ", ".join(overrides.get(c, f"t.{c}") for c in columns)
    sql = f"INSERT INTO {table} ({', '.join(columns)}) SELECT {values} FROM {source} WHERE {where}"  # noqa: S608
    return conn.execute(sql, params).rowcount


def clone_participants(database_url: str, template_id: str, count: int, prefix: str) -> int:
    """`count` copies of participant `template_id`, each with its own organisation, client and key.
    Their change stamps are spread one second apart, so updatedSince selects a slice."""
    with psycopg.connect(database_url) as conn:
        conn.execute(
            "CREATE TEMP TABLE seed ON COMMIT DROP AS SELECT g, gen_random_uuid() AS org_id, "
            "gen_random_uuid() AS participant_id, %(prefix)s || g AS client_id, "
            "now() - make_interval(secs => %(count)s - g) AS stamp FROM generate_series(1, %(count)s) g",
            {"prefix": prefix, "count": count},
        )
        template = conn.execute(
            "SELECT organisation_id, application_id FROM participants_participant WHERE id = %s", [template_id]
        ).fetchone()
        params = {"org": template[0], "app": template[1], "participant": template_id, "roles": ROLES}
        _copy(
            conn,
            "participants_organisation",
            "seed, participants_organisation t",
            "t.id = %(org)s",
            {"id": "seed.org_id", "name": "'Org ' || seed.client_id", "updated_at": "seed.stamp"},
            params,
        )
        _copy(
            conn,
            "oauth2_provider_application",
            "seed, oauth2_provider_application t",
            "t.id = %(app)s",
            {"client_id": "seed.client_id", "name": "seed.client_id"},
            params,
            skip=("id",),
        )
        _copy(
            conn,
            "participants_participant",
            "seed JOIN oauth2_provider_application a ON a.client_id = seed.client_id, participants_participant t",
            "t.id = %(participant)s",
            {
                "id": "seed.participant_id",
                "organisation_id": "seed.org_id",
                "application_id": "a.id",
                "client_id": "seed.client_id",
                "role": "(%(roles)s::text[])[1 + seed.g %% 6]",
                "updated_at": "seed.stamp",
            },
            params,
        )
        _copy(
            conn,
            "participants_participantkey",
            "seed, participants_participantkey t",
            "t.participant_id = %(participant)s",
            {"participant_id": "seed.participant_id"},
            params,
            skip=("id",),
        )
        conn.commit()
    return count


def seed_tokens(database_url: str, count: int, client_prefix: str, *, chunk: int = 1_000_000, progress=None) -> int:
    """`count` expired client-credential tokens spread over the clients whose IDs start with the prefix
    (expired, so the same rows then measure token cleanup), issued over the last 30 days in time order, as
    traffic appends them (the dashboard's last 24 hours are then a thirtieth of them)."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        done = 0
        while done < count:
            size = min(chunk, count - done)
            conn.execute(
                "WITH apps AS (SELECT array_agg(id ORDER BY id) AS ids FROM oauth2_provider_application "
                "WHERE client_id LIKE %(prefix)s || '%%') "
                "INSERT INTO oauth2_provider_accesstoken (token, expires, scope, application_id, created, updated, "
                "token_checksum, resource) "
                "SELECT '', now() - interval '1 minute', 'ocen', apps.ids[1 + g %% cardinality(apps.ids)], "
                "issued, issued, md5(g || 'a') || md5(g || 'b'), '[]'::jsonb "
                "FROM apps, generate_series(%(start)s, %(end)s) g, "
                "LATERAL (SELECT now() - interval '30 days' * (1 - g::float / %(total)s) - interval '2 minutes' "
                "AS issued) t",
                {"prefix": client_prefix, "start": done + 1, "end": done + size, "total": count},
            )
            done += size
            if progress:
                progress(done)
    return count
