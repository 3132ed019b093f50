"""Give the staff groups the webhook subscriptions: viewers see them, administrators also pause and resume them."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

ADMINISTRATORS = "Registry administrators"
VIEWERS = "Registry viewers"


def grant(apps, schema_editor):
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    view = Permission.objects.get(content_type__app_label="participants", codename="view_subscription")
    change = Permission.objects.get(content_type__app_label="participants", codename="change_subscription")
    administrators, _ = Group.objects.get_or_create(name=ADMINISTRATORS)
    administrators.permissions.add(view, change)
    viewers, _ = Group.objects.get_or_create(name=VIEWERS)
    viewers.permissions.add(view)


def revoke(apps, schema_editor):
    Permission = apps.get_model("auth", "Permission")
    Group = apps.get_model("auth", "Group")
    ours = Permission.objects.filter(content_type__app_label="participants", content_type__model="subscription")
    for group in Group.objects.filter(name__in=[ADMINISTRATORS, VIEWERS]):
        group.permissions.remove(*ours)


class Migration(migrations.Migration):
    dependencies = [("participants", "0014_change_type_and_subscriptions")]

    operations = [migrations.RunPython(grant, revoke)]
