"""Development quickstart: an administrator login and a few demo participants, printed to the console."""

import json
import os
import secrets
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from participants import services
from participants.models import Organisation, Participant, Product, ProductNetwork, ReviewStatus, Role

DEMO_PARTICIPANTS = [
    ("Demo Lender Bank", Role.LENDER, "http://127.0.0.1:9001/ocen"),
    ("Demo Loan Agent", Role.LOAN_AGENT, "http://127.0.0.1:9002/ocen"),
    ("Demo KYC Services", Role.KYC_PARTNER, "http://127.0.0.1:9003/ocen"),
]


SECOND_FACTOR = {
    "optional": "optional here (OCEN_ADMIN_2FA=optional); set one up at {origin}/admin/account/second-factor/enrol/",
    "required": "required (OCEN_ADMIN_2FA=required): after the password, the console asks you to set one up",
    "off": "off (OCEN_ADMIN_2FA=off)",
}


class Command(BaseCommand):
    help = "Create (or refresh) the admin login and demo participants, and print their credentials."

    def add_arguments(self, parser):
        parser.add_argument("--username", default="admin")
        parser.add_argument("--keys-dir", default=str(settings.BASE_DIR / "var" / "demo-keys"))

    def handle(self, *args, **options):
        if not settings.DEBUG:
            raise CommandError("quickstart_demo is for development only (DJANGO_DEBUG is off).")
        password = secrets.token_urlsafe(12)
        with transaction.atomic():
            user = self._admin_user(options["username"], password)
            actor = services.Actor.for_user(user)
            demo = [self._demo_participant(actor, Path(options["keys_dir"]), *spec) for spec in DEMO_PARTICIPANTS]
            network = self._demo_network(actor)
        origin = settings.OCEN_ISSUER.rsplit("/", 1)[0]
        self.stdout.write(
            "\nOCEN Registry quickstart\n"
            f"  Admin console: {origin}/admin/\n"
            f"  Login:         {user.username} / {password}\n"
            f"  Issuer:        {settings.OCEN_ISSUER}   (OCEN_ISSUER for the ocen_sdk toolkit)\n"
            f"  Registry API:  {origin}/service   (OCEN_REGISTRY_URL)\n"
            f"  Second factor: {SECOND_FACTOR[settings.OCEN_ADMIN_2FA].format(origin=origin)}\n\n"
            "Demo participants (secrets are new on every quickstart run; private keys are in "
            f"{options['keys_dir']}):\n"
        )
        self.stdout.write(json.dumps(demo, indent=2) + "\n")
        self.stdout.write(
            f"\nDemo product network {network.name!r}: GET /service/product-networks/{network.id}/participants\n"
        )

    def _demo_network(self, actor):
        lender = Participant.objects.get(organisation__name="Demo Lender Bank", role=Role.LENDER)
        agent = Participant.objects.get(organisation__name="Demo Loan Agent", role=Role.LOAN_AGENT)
        kyc = Participant.objects.get(organisation__name="Demo KYC Services", role=Role.KYC_PARTNER)
        product = Product.objects.filter(lender=lender, name="Demo Working Capital").first()
        if product is None:
            product = services.create_product(lender=lender, actor=actor, name="Demo Working Capital")
        network = ProductNetwork.objects.filter(product=product, created_by=agent).first()
        if network is None:
            network = services.create_network(product=product, loan_agent=agent, name="Demo MSME Network", actor=actor)
            services.add_network_member(network=network, participant=kyc, actor=actor)
        return network

    def _demo_reviewer(self):
        """With four-eyes on, the demo participants' second pair of eyes: an administrator account that cannot
        sign in (no usable password), so the demo still starts approved and the audit trail says who approved."""
        user, created = get_user_model().objects.get_or_create(username="demo-reviewer")
        if created:
            user.is_staff = True
            user.set_unusable_password()
            user.save()
            user.groups.add(Group.objects.get(name="Registry administrators"))
        return services.Actor.for_user(user)

    def _admin_user(self, username, password):
        user, _ = get_user_model().objects.get_or_create(username=username, defaults={"email": f"{username}@localhost"})
        user.is_staff = user.is_superuser = user.is_active = True
        user.set_password(password)
        user.save()
        user.groups.add(Group.objects.get(name="Registry administrators"))
        return user

    def _demo_participant(self, actor, keys_dir: Path, org_name, role, base_url):
        existing = Participant.objects.filter(organisation__name=org_name, role=role).first()
        if existing and not existing.is_offboarded:
            credentials = services.rotate_client_secret(participant=existing, actor=actor)
            key_file = keys_dir / f"{role.lower()}.pem"
        else:
            private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            public_pem = private_key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            org = Organisation.objects.filter(name=org_name).first()
            credentials = services.onboard_participant(
                organisation=org, org_name=org_name, role=role, base_url=base_url, public_key=public_pem, actor=actor
            )
            if credentials.participant.review_status == ReviewStatus.UNDER_REVIEW:  # OCEN_FOUR_EYES=1
                services.approve_participant(participant=credentials.participant, actor=self._demo_reviewer())
            key_file = self._write_private_key(keys_dir, role, private_key)
        return {**credentials.as_json(), "role": role, "baseUrl": base_url, "privateKeyFile": str(key_file)}

    def _write_private_key(self, keys_dir: Path, role, private_key) -> Path:
        keys_dir.mkdir(parents=True, exist_ok=True)
        path = keys_dir / f"{role.lower()}.pem"
        pem = private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)
        return path
