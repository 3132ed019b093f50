#!/usr/bin/env python
"""Django's command-line utility for the OCEN Registry."""

import os
import sys


def main():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ocen_registry.settings")
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line

    try:
        execute_from_command_line(sys.argv)
    except ImproperlyConfigured as exc:  # a bad setting: one line naming it, not a traceback
        sys.exit(f"manage.py: {exc}")


if __name__ == "__main__":
    main()
