import json

from django.core.management.base import BaseCommand

from authapi.signing import rotate_signing_key


class Command(BaseCommand):
    help = "Make a new active signing key; the old one is retired but published until its tokens expire."

    def handle(self, *args, **options):
        new, old = rotate_signing_key()
        self.stdout.write(
            json.dumps(
                {
                    "kid": new.kid,
                    "retiredKid": old.kid if old else None,
                    "retiredKeyVerifiesUntil": old.verify_until.isoformat() if old else None,
                }
            )
        )
