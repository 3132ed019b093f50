import json

from participants.management.commands._base import RegistryCommand
from participants.models import Change


class Command(RegistryCommand):
    help = (
        "Delete change feed entries older than OCEN_CHANGE_RETENTION_DAYS; run it from cron. The newest of them "
        "stays, as the mark by which a reader still behind it is told to take a snapshot (410)."
    )

    def handle(self, *args, **options):
        horizon = Change.objects.retention_horizon()
        deleted, _ = Change.objects.filter(seq__lt=horizon).delete()
        self.stdout.write(json.dumps({"deleted": deleted, "keptFrom": horizon}))
