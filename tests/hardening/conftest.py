import contextlib
import os

import pytest
import redis
from django.db import connection

from tests.servers import gunicorn, production_env

REDIS_URL = os.environ.get("OCEN_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture
def two_servers(transactional_db, settings):
    """Start two gunicorn servers (DJANGO_DEBUG=0) on the test database and one Redis database, emptied
    first: `two_servers(**env)` gives ((base_a, base_b), env). This process encrypts signing keys as the
    servers do, so keys made by either side are usable by the other."""
    stack = contextlib.ExitStack()

    def start(workers: int = 1, **overrides):
        redis.Redis.from_url(REDIS_URL).flushdb()
        env = production_env(connection.settings_dict, REDIS_URL=REDIS_URL, **overrides)
        settings.OCEN_SIGNING_KEY_ENCRYPTION_KEYS = [env["OCEN_SIGNING_KEY_ENCRYPTION_KEYS"]]
        return tuple(stack.enter_context(gunicorn(env, workers=workers)) for _ in range(2)), env

    with stack:
        yield start
