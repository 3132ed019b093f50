from django.core.management.base import BaseCommand

from participants.operators import reseal_second_factors


class Command(BaseCommand):
    help = (
        "Seal every operator's authenticator-app secret again under the first of OCEN_SIGNING_KEY_ENCRYPTION_KEYS "
        "(run before an older key is removed from the list)."
    )

    def handle(self, *args, **options):
        self.stdout.write(f"{reseal_second_factors()} authenticator app secret(s) sealed under the first key.")
