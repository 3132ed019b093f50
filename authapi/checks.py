"""System checks of the HTTP side's settings (`manage.py check --deploy` runs the deploy ones)."""

from django.conf import settings
from django.core.checks import Error, Tags, register


@register(Tags.security, deploy=True)
def shared_state_in_production(app_configs=None, **kwargs):
    """Throttles, lockout counters and the private_key_jwt replay store live in the shared cache: without
    REDIS_URL each process keeps its own, so a second process (gunicorn worker or server) doubles every limit
    and takes a replayed client assertion once more. A production registry sets REDIS_URL, or says in writing
    (OCEN_SINGLE_PROCESS_ACKNOWLEDGED=1) that it runs as one process."""
    if settings.DEBUG or settings.REDIS_URL or settings.OCEN_SINGLE_PROCESS_ACKNOWLEDGED:
        return []
    return [
        Error(
            "REDIS_URL is not set: each process keeps its own throttles and its own record of the client "
            "assertions (jti) it has seen, so with more than one process a replayed assertion is accepted again "
            "and every limit multiplies.",
            hint="Set REDIS_URL (redis://host:6379/0), or OCEN_SINGLE_PROCESS_ACKNOWLEDGED=1 if the registry runs "
            "as a single process (one gunicorn worker, one server).",
            id="ocen.E003",
        )
    ]
