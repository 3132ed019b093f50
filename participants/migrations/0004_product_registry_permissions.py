"""Give the staff groups the product registry (and a view of the registry's signing keys)."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

ADMINISTRATORS = "Registry administrators"
VIEWERS = "Registry viewers"
MODELS = ("product", "productnetwork", "networkmembership")


def grant(apps, schema_editor):
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    views = list(
        Permission.objects.filter(content_type__app_label="participants", codename__in=[f"view_{m}" for m in MODELS])
    ) + list(Permission.objects.filter(content_type__app_label="authapi", codename="view_signingkey"))
    manage = Permission.objects.filter(
        content_type__app_label="participants",
        codename__in=[
            "add_product",
            "change_product",
            "add_productnetwork",
            "change_productnetwork",
            "add_networkmembership",
            "change_networkmembership",
            "delete_networkmembership",  # ends a membership (kept as history), as the admin inline shows it
        ],
    )
    administrators, _ = Group.objects.get_or_create(name=ADMINISTRATORS)
    administrators.permissions.add(*views, *manage)
    viewers, _ = Group.objects.get_or_create(name=VIEWERS)
    viewers.permissions.add(*views)


def revoke(apps, schema_editor):
    Permission = apps.get_model("auth", "Permission")
    Group = apps.get_model("auth", "Group")
    ours = Permission.objects.filter(content_type__app_label="participants", content_type__model__in=MODELS)
    for group in Group.objects.filter(name__in=[ADMINISTRATORS, VIEWERS]):
        group.permissions.remove(*ours)


class Migration(migrations.Migration):
    dependencies = [
        ("participants", "0003_product_registry"),
        ("participants", "0002_permission_groups"),
        ("authapi", "0001_signing_keys"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
