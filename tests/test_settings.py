"""The env-driven settings fail loudly on missing or bad production configuration."""

import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parents[1]


PRODUCTION = {
    "DJANGO_DEBUG": "0",
    "DJANGO_SECRET_KEY": "k" * 50,
    "DATABASE_URL": "postgres://registry@db.internal:5432/registry",
    "OCEN_SIGNING_KEY_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
}


def load_settings(expression: str = "settings.OCEN_ACCESS_TOKEN_TTL", **env) -> subprocess.CompletedProcess:
    code = f"import django; django.setup(); from django.conf import settings; print({expression})"
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
        ({**PRODUCTION, "OCEN_SIGNING_KEY_ENCRYPTION_KEYS": ""}, "OCEN_SIGNING_KEY_ENCRYPTION_KEYS must be set"),
        ({"OCEN_SIGNING_KEY_ENCRYPTION_KEYS": "not-a-fernet-key"}, "must hold Fernet keys"),
        ({"OCEN_TRUSTED_PROXY_COUNT": "-1"}, "OCEN_TRUSTED_PROXY_COUNT must be between 0 and 10"),
        ({"OCEN_ISSUER": "notaurl"}, "OCEN_ISSUER must be an absolute http(s) URL"),
        ({"OCEN_ISSUER": "ftp://registry.example.in/auth"}, "OCEN_ISSUER must be an absolute http(s) URL"),
        ({"OCEN_TOKEN_AUDIENCE": " "}, "OCEN_TOKEN_AUDIENCE must not be empty"),
        ({"OCEN_ROLE_SPELLING": "jackson"}, "OCEN_ROLE_SPELLING must be one of registry, reference"),
        ({"OCEN_PARTICIPANT_KEY_TYPES": "RSA,Ed25519"}, "OCEN_PARTICIPANT_KEY_TYPES must be RSA, or RSA,EC"),
        ({"OCEN_PARTICIPANT_KEY_TYPES": "EC"}, "OCEN_PARTICIPANT_KEY_TYPES must be RSA, or RSA,EC"),
        ({"OCEN_ISSUER": "https://registry.example.in/auth?x=1"}, "without query or fragment"),
    ],
)
def test_bad_configuration_is_refused_at_start_up(env, message):
    result = load_settings(**env)
    assert result.returncode != 0 and message in result.stderr


def test_development_defaults_work_without_configuration():
    result = load_settings()
    assert result.returncode == 0 and result.stdout.strip() == "3600"


def test_production_settings_load_with_every_required_variable():
    assert load_settings(**PRODUCTION).returncode == 0


def test_options_in_database_url_are_kept():
    """DATABASE_URL=…?sslmode=require must connect with TLS: the prepared-statement options add to what
    the URL says, never replace it."""
    url = PRODUCTION["DATABASE_URL"] + "?sslmode=require&application_name=registry"
    result = load_settings(
        "sorted(settings.DATABASES['default']['OPTIONS'].items())", **{**PRODUCTION, "DATABASE_URL": url}
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (
        "[('application_name', 'registry'), ('prepare_threshold', 5), ('server_side_binding', True), "
        "('sslmode', 'require')]"
    )


def test_behind_the_tls_proxy_one_forwarding_proxy_is_trusted_by_default():
    result = load_settings("settings.OCEN_TRUSTED_PROXY_COUNT", **{**PRODUCTION, "DJANGO_BEHIND_TLS_PROXY": "1"})
    assert result.stdout.strip() == "1"
    assert load_settings("settings.OCEN_TRUSTED_PROXY_COUNT", **PRODUCTION).stdout.strip() == "0"
