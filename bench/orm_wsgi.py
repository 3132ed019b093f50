"""The registry with its compiled hot statements run through the ORM instead (bench only): each Statement's
QuerySet is compiled by Django on every call, as plain ORM code would be, over the same server-side prepared
statements (DATABASE_PREPARED_STATEMENTS). What `make bench` weighs authapi/compiled.py against. The token INSERT
stays one statement in both: the ORM has no INSERT … SELECT … WHERE to write it with."""

from django.core.wsgi import get_wsgi_application

application = get_wsgi_application()  # django.setup(): the models are loaded before the statements are touched

from authapi import compiled  # noqa: E402


def _through_the_orm(self, values: dict, *, one: bool) -> list[tuple]:
    queryset = self.build(**values)
    rows = queryset[:1] if one else queryset
    return [tuple(row.values()) if isinstance(row, dict) else row for row in rows]  # .values() rows as tuples


compiled.Statement._fetch = _through_the_orm
