import json

from django.core.management.base import CommandError

from authapi.models import SigningKey
from authapi.signing import create_signing_key
from participants.management.commands._base import RegistryCommand


class Command(RegistryCommand):
    help = "Create the registry's first token-signing key (RSA-2048, encrypted at rest)."

    def add_arguments(self, parser):
        self.add_actor_argument(parser)

    def handle(self, *args, **options):
        if SigningKey.objects.active().exists():
            raise CommandError("An active signing key exists already; use rotate_signing_key to replace it.")
        key = create_signing_key(actor=self.actor(options))
        self.stdout.write(json.dumps({"kid": key.kid, "status": key.status}))
