from participants import services
from participants.models import ReviewStatus

from ._base import RegistryCommand


class Command(RegistryCommand):
    help = (
        "Onboard a participant role and print its participantId, orgId, clientId and (once) clientSecret, "
        "or with --key-only no secret."
    )

    def add_arguments(self, parser):
        parser.add_argument("--org-name", required=True, help="Organisation name (found or created).")
        parser.add_argument("--org-id", help="Organisation id (UUID) to attach to, or to create with.")
        parser.add_argument("--role", required=True, help="LENDER, LOAN_AGENT, KYC_PARTNER, …")
        parser.add_argument("--base-url", required=True, help="The participant's API base URL (https).")
        parser.add_argument("--public-key", required=True, metavar="FILE", help="Certificate, public key or JWK.")
        parser.add_argument(
            "--key-only",
            action="store_true",
            help="Issue no client secret: the participant authenticates with private_key_jwt (its keys).",
        )
        parser.add_argument(
            "--as-application",
            action="store_true",
            help="Record an application received (Applied): approved only after start_review and a decision.",
        )
        self.add_actor_argument(parser)

    def handle(self, *args, **options):
        credentials = self.call(
            services.onboard_participant,
            org_name=options["org_name"],
            org_id=options["org_id"],
            role=options["role"],
            base_url=options["base_url"],
            public_key=self.read_key_file(options["public_key"]),
            actor=self.actor(options),
            key_only=options["key_only"],
            pending=ReviewStatus.APPLIED if options["as_application"] else None,
        )
        self.emit(credentials.as_json())
