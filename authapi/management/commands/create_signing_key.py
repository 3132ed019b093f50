import json

from django.core.management.base import BaseCommand, CommandError

from authapi.models import SigningKey, SigningKeyStatus
from authapi.signing import create_signing_key


class Command(BaseCommand):
    help = "Create the registry's first token-signing key (RSA-2048, encrypted at rest)."

    def handle(self, *args, **options):
        if SigningKey.objects.filter(status=SigningKeyStatus.ACTIVE).exists():
            raise CommandError("An active signing key exists already; use rotate_signing_key to replace it.")
        key = create_signing_key()
        self.stdout.write(json.dumps({"kid": key.kid, "status": key.status}))
