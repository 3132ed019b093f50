"""Create the two staff groups: Registry administrators (operate) and Registry viewers (read only)."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

ADMINISTRATORS = "Registry administrators"
VIEWERS = "Registry viewers"
MODELS = ("organisation", "participant", "participantkey", "auditevent")
ADMIN_CODENAMES = [
    "add_organisation",
    "change_organisation",
    "add_participant",
    "change_participant",
    "change_participantkey",
    "review_participant",
    "suspend_participant",
    "rotate_client_secret",
    "offboard_participant",
]


def create_groups(apps, schema_editor):
    # Permissions are normally created after all migrations; make sure they exist now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    ours = Permission.objects.filter(content_type__app_label="participants")
    view = list(ours.filter(codename__in=[f"view_{model}" for model in MODELS]))
    administrators, _ = Group.objects.get_or_create(name=ADMINISTRATORS)
    administrators.permissions.set(view + list(ours.filter(codename__in=ADMIN_CODENAMES)))
    viewers, _ = Group.objects.get_or_create(name=VIEWERS)
    viewers.permissions.set(view)


def remove_groups(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=[ADMINISTRATORS, VIEWERS]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("participants", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_groups, remove_groups)]
