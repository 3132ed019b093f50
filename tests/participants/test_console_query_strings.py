"""No console page answers a query string it cannot use with a 500 (issue 31): every page an administrator can
open, asked with filters, orders, pages and ids that are none."""

import pytest

from tests.participants.console_pages import every_console_page
from tests.participants.test_admin_permissions import one_of_everything  # noqa: F401 — a fixture

pytestmark = pytest.mark.django_db

NONSENSE = [
    "foo=1",
    "created_at__gte=notadate",
    "at__gte=x",
    "e=1&foo=1",
    "o=zz.-9",
    "p=abc",
    "page=abc",
    "ids=not-a-uuid,%ZZ",
    "state=bogus&key_expiry=bogus",
    "_changelist_filters=foo%3D1",
    "_to_field=password",
    "q=" + "x" * 3000,
]


def test_no_console_page_answers_a_bad_query_string_with_a_500(admin_client, one_of_everything):  # noqa: F811
    admin_client.raise_request_exception = False
    pages = every_console_page(admin_client)
    assert len(pages) > 40, pages  # every list, record page and custom view
    failed = [
        f"{page}?{query[:40]} -> {status}"
        for page in pages
        for query in NONSENSE
        if (status := admin_client.get(f"{page}?{query}").status_code) >= 500
    ]
    assert not failed, "\n".join(failed)
