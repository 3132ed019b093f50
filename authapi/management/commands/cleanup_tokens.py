import datetime as dt
import json

from django.db import connection, transaction
from django.utils import timezone
from oauth2_provider.models import get_access_token_model

from participants import issuance
from participants.management.commands._base import RegistryCommand, at_least
from participants.wire import rfc3339


class Command(RegistryCommand):
    help = (
        "Count the tokens of each hour that is over (the console's chart), then delete expired access tokens in "
        "batches (bounded memory and transaction size); run it hourly from cron. "
        "Revoked tokens are deleted when they are revoked."
    )

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=at_least(1), default=5000)
        parser.add_argument(
            "--grace", type=at_least(0), default=3600, help="Seconds past expiry to keep a token (audits)."
        )

    def handle(self, *args, **options):
        hours_counted = issuance.count_past_hours()  # the console's chart, before the tokens go
        AccessToken = get_access_token_model()
        cutoff = timezone.now() - dt.timedelta(seconds=options["grace"])
        # Client-credential tokens own no other rows, so each batch is one plain DELETE (Django's delete
        # collector would look for dependents in chunks: dozens of statements per batch). Tokens that
        # have refresh tokens (other grants) are left to django-oauth-toolkit's own cleartokens.
        expired = AccessToken.objects.filter(expires__lt=cutoff, refresh_token__isnull=True).order_by("id")
        table = connection.ops.quote_name(AccessToken._meta.db_table)
        deleted = batches = last = 0
        # Keyset batches (id > the last one seen): each batch starts where the previous stopped, instead
        # of re-walking the index past every row already deleted (and not yet vacuumed).
        while ids := list(expired.filter(id__gt=last).values_list("id", flat=True)[: options["batch_size"]]):
            last = ids[-1]
            placeholders = ", ".join(["%s"] * len(ids))
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(f"DELETE FROM {table} WHERE id IN ({placeholders})", ids)  # noqa: S608
                deleted += cursor.rowcount
            batches += 1
        report = {
            "deleted": deleted,
            "batches": batches,
            "expiredBefore": rfc3339(cutoff),
            "hoursCounted": hours_counted,
        }
        self.stdout.write(json.dumps(report))
