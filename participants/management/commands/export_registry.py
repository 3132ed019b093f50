import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from participants.registry_io import export_registry
from participants.wire import rfc3339


class Command(BaseCommand):
    help = (
        "Write the registry (organisations, participants and public keys, products, networks) as JSON; no "
        "secrets. With --output, the file is written and a summary (file, counts, time) is printed."
    )

    def add_arguments(self, parser):
        parser.add_argument("--output", metavar="FILE", help="Write here instead of standard output.")

    def handle(self, *args, **options):
        exported_at = timezone.now()
        document = export_registry()
        text = json.dumps(document, indent=2, ensure_ascii=False)
        if not options["output"]:
            self.stdout.write(text)
            return
        path = Path(options["output"])
        try:
            path.write_text(text + "\n")
        except OSError as exc:
            raise CommandError(f"Cannot write {path}: {exc.strerror or exc}.") from None
        self.stdout.write(json.dumps({"output": str(path), "exportedAt": rfc3339(exported_at), **counts(document)}))


def counts(document: dict) -> dict:
    """How many of each kind of record the document holds."""
    return {
        "organisations": len(document["organisations"]),
        "participants": len(document["participants"]),
        "keys": sum(len(p["keys"]) for p in document["participants"]),
        "products": len(document["products"]),
        "productNetworks": len(document["productNetworks"]),
        "memberships": sum(len(n["members"]) for n in document["productNetworks"]),
    }
