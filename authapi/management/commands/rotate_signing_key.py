import json

from authapi.signing import rotate_signing_key
from participants.management.commands._base import RegistryCommand
from participants.wire import rfc3339


class Command(RegistryCommand):
    help = (
        "Make a new active signing key (it signs from the next request on, on every server); the old one is "
        "retired but published until its tokens expire."
    )

    def add_arguments(self, parser):
        self.add_actor_argument(parser)

    def handle(self, *args, **options):
        new, old = rotate_signing_key(actor=self.actor(options))
        self.stdout.write(
            json.dumps(
                {
                    "kid": new.kid,
                    "retiredKid": old.kid if old else None,
                    "retiredKeyVerifiesUntil": rfc3339(old.verify_until) if old else None,
                }
            )
        )
