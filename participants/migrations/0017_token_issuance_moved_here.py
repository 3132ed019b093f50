"""TokenIssuance moves from authapi to participants (the console's dashboard reads it; the domain never imports the
HTTP layer). The table is renamed, its rows kept; authapi's 0007 drops the model from its own state."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("participants", "0016_operator_sessions"),
        ("authapi", "0006_brin_autosummarize"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="TokenIssuance",
                    fields=[
                        (
                            "hour",
                            models.DateTimeField(
                                help_text="The hour's start, in the console's zone.", primary_key=True, serialize=False
                            ),
                        ),
                        ("count", models.PositiveBigIntegerField()),
                    ],
                )
            ],
            database_operations=[
                migrations.RunSQL(
                    "ALTER TABLE authapi_tokenissuance RENAME TO participants_tokenissuance",
                    "ALTER TABLE participants_tokenissuance RENAME TO authapi_tokenissuance",
                )
            ],
        )
    ]
