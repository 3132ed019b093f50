import json
from pathlib import Path

from django.core.management.base import CommandError

from participants.registry_io import ImportRefused, import_registry

from ._base import RegistryCommand


class Command(RegistryCommand):
    help = (
        "Load a registry document (export_registry's format): all-or-nothing, idempotent. Prints what was "
        "created and, once, the client secrets of participants it created."
    )

    def add_arguments(self, parser):
        parser.add_argument("file")
        self.add_actor_argument(parser)

    def handle(self, *args, **options):
        try:
            document = json.loads(Path(options["file"]).read_text())
        except OSError as exc:
            raise CommandError(f"Cannot read {options['file']!r}: {exc.strerror}.") from None
        except (ValueError, RecursionError) as exc:
            raise CommandError(f"{options['file']} is not valid JSON: {exc}.") from None
        try:
            result = import_registry(document, actor=self.actor(options))
        except ImportRefused as exc:
            raise CommandError(
                f"Nothing was imported; {len(exc.messages)} problem(s):\n  " + "\n  ".join(exc.messages)
            ) from None
        self.emit(result.as_json())
