"""Benchmark settings: production settings plus a trivial plain view to measure ratios against."""

from ocen_registry.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
LOGGING = {"version": 1, "disable_existing_loggers": False, "root": {"level": "WARNING"}}
