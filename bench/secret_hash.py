"""
Client-secret check cost, measured side by side in one run.

Times django.contrib.auth.hashers.check_password — the call django-oauth-toolkit makes for every
token request — with the production client-secret hasher, against Django's default PBKDF2 (what
django-oauth-toolkit uses out of the box). Prints µs per check, the ratio, and the < 100 µs target
(docs/performance.md).

    .venv/bin/python bench/secret_hash.py
"""

import os
import secrets
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ocen_registry.settings")

import django

django.setup()

from django.contrib.auth.hashers import check_password, make_password  # noqa: E402
from oauth2_provider.settings import oauth2_settings  # noqa: E402


def per_check_us(encoded: str, secret: str, rounds: int, repeat: int = 5) -> float:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        for _ in range(rounds):
            check_password(secret, encoded)
        samples.append((time.perf_counter() - started) / rounds * 1e6)
    return statistics.median(samples)


def main():
    secret = secrets.token_urlsafe(32)
    production = make_password(secret, hasher=oauth2_settings.CLIENT_SECRET_HASHER)
    pbkdf2 = make_password(secret, hasher="default")
    production_us = per_check_us(production, secret, rounds=20000)
    pbkdf2_us = per_check_us(pbkdf2, secret, rounds=3, repeat=3)
    print(f"{'hasher':<34}{'µs/check':>12}{'checks/s':>12}")
    label = f"{oauth2_settings.CLIENT_SECRET_HASHER} (production)"
    print(f"{label:<34}{production_us:>12.2f}{1e6 / production_us:>12.0f}")
    print(f"{'pbkdf2_sha256 (Django default)':<34}{pbkdf2_us:>12.1f}{1e6 / pbkdf2_us:>12.1f}")
    print(
        f"production check is {pbkdf2_us / production_us:,.0f}x cheaper than PBKDF2; target < 100 µs: "
        f"{'met' if production_us < 100 else 'MISSED'}"
    )


if __name__ == "__main__":
    main()
