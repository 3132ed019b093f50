"""The peer baseline: the same project and middleware, with django-oauth-toolkit as it comes.

Its own TokenView at /stock/token, its default client-secret hasher (Django's PBKDF2), its default
opaque (random) access tokens stored in the clear, and its own validator: what a registry built on
stock django-oauth-toolkit would do per grant.
"""

from bench.settings import *  # noqa: F403

ROOT_URLCONF = "bench.stock_urls"
OAUTH2_PROVIDER = {"SCOPES": {"ocen": "OCEN network APIs"}, "DEFAULT_SCOPES": ["ocen"]}
