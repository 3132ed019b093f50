import json
from pathlib import Path

from django.core.management.base import BaseCommand

from participants.registry_io import export_registry


class Command(BaseCommand):
    help = "Write the registry (organisations, participants and public keys, products, networks) as JSON; no secrets."

    def add_arguments(self, parser):
        parser.add_argument("--output", metavar="FILE", help="Write here instead of standard output.")

    def handle(self, *args, **options):
        text = json.dumps(export_registry(), indent=2, ensure_ascii=False)
        if options["output"]:
            Path(options["output"]).write_text(text + "\n")
        else:
            self.stdout.write(text)
