"""Log lines stamped in UTC (RFC 3339, milliseconds, Z), as the API and audit times are, and as gunicorn
stamps its own; Django's TIME_ZONE is for people reading the console, not for logs."""

import logging
import time


class UTCFormatter(logging.Formatter):
    converter = time.gmtime
    default_time_format = "%Y-%m-%dT%H:%M:%S"
    default_msec_format = "%s.%03dZ"
