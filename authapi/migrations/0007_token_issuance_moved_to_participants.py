"""TokenIssuance now belongs to participants (its 0017 renamed the table): only authapi's state forgets it."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("authapi", "0006_brin_autosummarize"),
        ("participants", "0017_token_issuance_moved_here"),
    ]

    operations = [migrations.SeparateDatabaseAndState(state_operations=[migrations.DeleteModel(name="TokenIssuance")])]
