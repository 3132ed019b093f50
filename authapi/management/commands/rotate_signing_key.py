import json

from authapi.signing import rotate_signing_key
from participants.management.commands._base import RegistryCommand
from participants.wire import rfc3339


class Command(RegistryCommand):
    help = (
        "Rotate the token-signing key in two steps, unseen by verifiers: the first run publishes the next key in the "
        "JWKS; a run once it has been published for OCEN_REGISTRY_MAX_AGE (its signsFrom) makes it sign, on every "
        "server, and retires the old one, published until its tokens expire. A run before then changes nothing. "
        "--now switches at once (a suspected compromise: verifiers holding an older copy of the JWKS meet an "
        "unknown kid until they fetch it again)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--now", action="store_true", help="switch at once, to the next key if one is published, else a new one"
        )
        self.add_actor_argument(parser)

    def handle(self, *args, **options):
        rotation = rotate_signing_key(actor=self.actor(options), at_once=options["now"])
        old, upcoming = rotation.retired, rotation.upcoming
        self.stdout.write(
            json.dumps(
                {
                    "kid": rotation.active.kid,
                    "switched": upcoming is None,
                    "retiredKid": old.kid if old else None,
                    "retiredKeyVerifiesUntil": rfc3339(old.verify_until) if old else None,
                    "nextKid": upcoming.kid if upcoming else None,
                    "nextSignsFrom": rfc3339(upcoming.signs_from) if upcoming else None,
                }
            )
        )
