from django.db import migrations, models


class Migration(migrations.Migration):
    """A signing key can be published as NEXT before it signs (issue 31: rotation invisible to verifiers)."""

    dependencies = [
        ("authapi", "0007_token_issuance_moved_to_participants"),
    ]

    operations = [
        migrations.AlterField(
            model_name="signingkey",
            name="status",
            field=models.CharField(
                choices=[
                    ("NEXT", "Next (published, not yet signing)"),
                    ("ACTIVE", "Active"),
                    ("RETIRED", "Retired"),
                    ("REVOKED", "Revoked"),
                ],
                default="ACTIVE",
                max_length=8,
            ),
        ),
        migrations.RemoveConstraint(model_name="signingkey", name="signing_key_retired_has_end"),
        migrations.AddConstraint(
            model_name="signingkey",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("status__in", ["ACTIVE", "NEXT"]), ("verify_until__isnull", False), _connector="OR"
                ),
                name="signing_key_retired_has_end",
            ),
        ),
        migrations.AddConstraint(
            model_name="signingkey",
            constraint=models.UniqueConstraint(
                condition=models.Q(("status", "NEXT")), fields=("status",), name="signing_key_one_next"
            ),
        ),
    ]
