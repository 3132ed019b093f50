import json

from django.core.exceptions import ValidationError
from django.core.management.base import CommandError

from authapi.signing import revoke_signing_key
from participants.management.commands._base import RegistryCommand, one_line
from participants.wire import rfc3339


class Command(RegistryCommand):
    help = (
        "Withdraw a compromised signing key at once: it leaves the JWKS and every token it signed is refused "
        "on the next request, on every server. Revoking the active key makes a new one active."
    )

    def add_arguments(self, parser):
        parser.add_argument("kid", help="The key's kid (one that starts with '-' goes after a '--').")
        parser.add_argument("--reason", required=True, help="Why, for the audit trail.")
        self.add_actor_argument(parser)

    def handle(self, *args, **options):
        try:
            revoked, replacement = revoke_signing_key(
                kid=options["kid"], reason=options["reason"], actor=self.actor(options)
            )
        except ValidationError as exc:
            raise CommandError(one_line(exc)) from None
        self.stdout.write(
            json.dumps(
                {
                    "revokedKid": revoked.kid,
                    "revokedAt": rfc3339(revoked.revoked_at),
                    "activeKid": replacement.kid if replacement else None,
                }
            )
        )
