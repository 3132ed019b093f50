"""Token table growth: expired tokens are deleted in bounded batches; live ones stay."""

import datetime as dt
import hashlib
import json
from io import StringIO

from django.core.management import call_command
from django.utils import timezone
from oauth2_provider.models import AccessToken

from tests.authapi.conftest import get_token


def test_cleanup_deletes_100000_expired_tokens_in_batches(client, lender, django_assert_max_num_queries):
    live = get_token(client, lender)
    application = lender.participant.application
    expired = timezone.now() - dt.timedelta(days=2)
    AccessToken.objects.bulk_create(
        (
            AccessToken(
                application=application,
                expires=expired,
                scope="ocen",
                token="",
                token_checksum=hashlib.sha256(f"old-{i}".encode()).hexdigest(),
            )
            for i in range(100_000)
        ),
        batch_size=10_000,
    )
    assert AccessToken.objects.count() == 100_001
    out = StringIO()
    # Per batch: a select of ids and one DELETE in its own (here: savepoint) transaction — a fixed number
    # of statements per batch of 5,000 rows, whatever the table holds; before them, three to count the
    # hours that are over for the console's chart (the last counted, the counts, the insert).
    with django_assert_max_num_queries(3 + 4 * 20 + 1):
        call_command("cleanup_tokens", "--batch-size", "5000", "--grace", "60", stdout=out)
    result = json.loads(out.getvalue())
    assert result["deleted"] == 100_000 and result["batches"] == 20
    assert AccessToken.objects.count() == 1
    assert (
        client.get(
            f"/service/participant-roles/{lender.participant.id}", HTTP_AUTHORIZATION=f"Bearer {live}"
        ).status_code
        == 200
    )
