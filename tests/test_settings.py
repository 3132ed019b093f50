"""The env-driven settings fail loudly on missing or bad production configuration."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def load_settings(**env) -> subprocess.CompletedProcess:
    code = "import django; django.setup(); from django.conf import settings; print(settings.OCEN_ACCESS_TOKEN_TTL)"
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={"DJANGO_SETTINGS_MODULE": "ocen_registry.settings", "PATH": "/usr/bin:/bin", **env},
        check=False,
    )


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DJANGO_DEBUG": "0", "DATABASE_URL": "postgres://x@127.0.0.1/x"}, "DJANGO_SECRET_KEY must be set"),
        ({"DJANGO_DEBUG": "0", "DJANGO_SECRET_KEY": "k" * 50}, "DATABASE_URL must be set"),
        ({"DJANGO_DEBUG": "maybe"}, "DJANGO_DEBUG must be a boolean"),
        ({"OCEN_ACCESS_TOKEN_TTL": "forever"}, "OCEN_ACCESS_TOKEN_TTL must be a whole number"),
        ({"OCEN_ACCESS_TOKEN_TTL": "172800"}, "OCEN_ACCESS_TOKEN_TTL must be between 60 and 86400"),
    ],
)
def test_bad_configuration_is_refused_at_start_up(env, message):
    result = load_settings(**env)
    assert result.returncode != 0 and message in result.stderr


def test_development_defaults_work_without_configuration():
    result = load_settings()
    assert result.returncode == 0 and result.stdout.strip() == "3600"
