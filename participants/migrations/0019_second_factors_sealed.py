"""Second factors at rest (issue 31): authenticator apps move to OperatorTOTPDevice with their secrets sealed under
the registry's encryption keys, recovery codes become keyed digests, and codes already in django-axes' attempt log
are masked as it masks them from now on."""

import re

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

from participants.models.operators import new_sealed_key, recovery_code_digests, sealed, sealing

MASK = "********************"  # django-axes' own
LOGGED_SECRET = re.compile(r"^(password|code|csrfmiddlewaretoken)=.*$", re.MULTILINE)

COPIED = (
    "step",
    "t0",
    "digits",
    "tolerance",
    "drift",
    "last_t",
    "throttling_failure_timestamp",
    "throttling_failure_count",
    "last_used_at",
)


def seal(apps, schema_editor):
    """Each app's secret sealed, and its row moved; each recovery code replaced by its digest; logged codes masked."""
    plain = apps.get_model("otp_totp", "TOTPDevice")
    sealed_devices = apps.get_model("participants", "OperatorTOTPDevice")
    for device in plain.objects.all():
        moved = sealed_devices.objects.create(
            user_id=device.user_id,
            name=device.name,
            confirmed=device.confirmed,
            sealed_key=sealed(bytes.fromhex(device.key)),
            **{field: getattr(device, field) for field in COPIED},
        )
        sealed_devices.objects.filter(pk=moved.pk).update(created_at=device.created_at)
    plain.objects.all().delete()

    for token in apps.get_model("otp_static", "StaticToken").objects.all():
        token.token = recovery_code_digests(token.token.strip().lower())[0]
        token.save(update_fields=["token"])

    for attempt in apps.get_model("axes", "AccessAttempt").objects.exclude(post_data=""):
        attempt.post_data = LOGGED_SECRET.sub(rf"\1={MASK}", attempt.post_data)
        attempt.save(update_fields=["post_data"])


def unseal(apps, schema_editor):
    """Back to django-otp's own devices, secrets in clear; recovery codes stay digests (and stop working)."""
    plain = apps.get_model("otp_totp", "TOTPDevice")
    for device in apps.get_model("participants", "OperatorTOTPDevice").objects.all():
        key = sealing().decrypt(device.sealed_key.encode())
        plain.objects.create(
            user_id=device.user_id,
            name=device.name,
            confirmed=device.confirmed,
            key=key.hex(),
            **{field: getattr(device, field) for field in COPIED},
        )


class Migration(migrations.Migration):
    dependencies = [
        ("participants", "0018_audit_actions_as_choices"),
        ("otp_totp", "0003_add_timestamps"),
        ("otp_static", "0003_add_timestamps"),
        ("axes", "0010_accessattemptexpiration"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="OperatorTOTPDevice",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "created_at",
                    models.DateTimeField(
                        auto_now_add=True,
                        help_text="The date and time when this device was initially created in the system.",
                        null=True,
                    ),
                ),
                (
                    "last_used_at",
                    models.DateTimeField(
                        blank=True, help_text="The most recent date and time this device was used.", null=True
                    ),
                ),
                (
                    "throttling_failure_timestamp",
                    models.DateTimeField(
                        blank=True,
                        default=None,
                        help_text="A timestamp of the last failed verification attempt. "
                        "Null if last attempt succeeded.",
                        null=True,
                    ),
                ),
                (
                    "throttling_failure_count",
                    models.PositiveIntegerField(default=0, help_text="Number of successive failed attempts."),
                ),
                ("name", models.CharField(help_text="The human-readable name of this device.", max_length=64)),
                ("confirmed", models.BooleanField(default=True, help_text="Is this device ready for use?")),
                ("sealed_key", models.TextField(default=new_sealed_key)),
                ("step", models.PositiveSmallIntegerField(default=30)),
                ("t0", models.BigIntegerField(default=0)),
                ("digits", models.PositiveSmallIntegerField(choices=[(6, 6), (8, 8)], default=6)),
                ("tolerance", models.PositiveSmallIntegerField(default=1)),
                ("drift", models.SmallIntegerField(default=0)),
                ("last_t", models.BigIntegerField(default=-1)),
                (
                    "user",
                    models.ForeignKey(
                        help_text="The user that this device belongs to.",
                        on_delete=django.db.models.deletion.CASCADE,
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "verbose_name": "authenticator app",
                "abstract": False,
            },
        ),
        migrations.RunPython(seal, unseal),
    ]
