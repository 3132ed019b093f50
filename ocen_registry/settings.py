"""
Settings for the OCEN Registry: one file, driven by environment variables.

Every variable is listed in the README. Development defaults work out of the box
(SQLite, DEBUG on); with DEBUG off, DJANGO_SECRET_KEY, DATABASE_URL and
OCEN_SIGNING_KEY_ENCRYPTION_KEYS must be given.
"""

import os
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str | None = None) -> str | None:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (1/0, true/false, yes/no, on/off), not {raw!r}")


def env_int(name: str, default: int, *, minimum: int = 0, maximum: int | None = None) -> int:
    raw = os.environ.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {raw!r}") from None
    if value < minimum or (maximum is not None and value > maximum):
        raise ImproperlyConfigured(f"{name} must be between {minimum} and {maximum}, not {value}")
    return value


def env_float(name: str, default: float, *, minimum: float = 0, maximum: float | None = None) -> float:
    raw = os.environ.get(name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number of seconds, not {raw!r}") from None
    if not minimum <= value <= (maximum if maximum is not None else float("inf")):
        raise ImproperlyConfigured(f"{name} must be between {minimum} and {maximum}, not {value}")
    return value


def env_choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    value = os.environ.get(name, default).strip().lower()
    if value not in choices:
        raise ImproperlyConfigured(f"{name} must be one of {', '.join(choices)}, not {value!r}")
    return value


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


DEBUG = env_bool("DJANGO_DEBUG", True)

SECRET_KEY = env_str("DJANGO_SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("DJANGO_SECRET_KEY must be set when DJANGO_DEBUG is off")
    SECRET_KEY = "django-insecure-development-only-key-never-use-in-production"  # noqa: S105

ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    # The console's theme (django-unfold) goes before the admin, whose templates it replaces.
    "unfold",
    "unfold.contrib.filters",
    "unfold.contrib.import_export",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "oauth2_provider",
    # The task queue (webhook deliveries) before participants, whose admin unregisters the queue's own page.
    "django_tasks",
    "django_tasks_db",
    # Operators' second factors: TOTP apps and one-time recovery codes (participants/operators.py).
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "django_otp_webauthn",
    "participants",
    "authapi",
    "axes",
    "import_export",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "participants.middleware.ConsoleContentSecurityPolicy",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "authapi.middleware.RefuseNulInQueryStrings",
    "authapi.middleware.RefuseOversizedBodies",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "participants.middleware.OperatorSessions",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "authapi.middleware.SignedRegistryResponses",
    "authapi.health.ServiceUnavailableOnOutage",
    "axes.middleware.AxesMiddleware",
    "authapi.middleware.JsonNotFoundOnApiPaths",
]

# Admin login lockout (django-axes): per user name and address (an IPv6 address by its /64), counted in the database.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"  # shared by every server through PostgreSQL
AXES_FAILURE_LIMIT = env_int("OCEN_ADMIN_LOGIN_FAILURE_LIMIT", 5, minimum=1)
OCEN_ADMIN_LOCKOUT_SECONDS = env_int("OCEN_ADMIN_LOCKOUT_SECONDS", 900, minimum=1)
AXES_COOLOFF_TIME = OCEN_ADMIN_LOCKOUT_SECONDS / 3600  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
# The address as the trusted proxies report it (OCEN_TRUSTED_PROXY_COUNT); IPv6 by its /64, as the token throttle.
AXES_CLIENT_IP_CALLABLE = "participants.operators.lockout_source"
# A right password alone resets nothing: failures (wrong passwords and wrong codes) are cleared once both factors
# pass (participants/operators.py), so guessing codes between right passwords still locks that address out.
AXES_RESET_ON_SUCCESS = False
AXES_LOCKOUT_TEMPLATE = "admin/account/locked_out.html"
# Masked in the attempt log (AccessAttempt.post_data): no password, second-factor code or CSRF token is kept.
AXES_SENSITIVE_PARAMETERS = ["password", "code", "csrfmiddlewaretoken"]
# Lockouts are audit events (participants/receivers.py), lifted with `manage.py axes_reset_username`; the
# raw attempt tables stay out of the console (and their actions out of a viewer's reach).
AXES_ENABLE_ADMIN = False

# The console (django-unfold): the registry's name and icon, its dashboard as the index, and one teal accent.
# The sidebar is the stock app list, so it shows each operator only what their permissions open.
UNFOLD = {
    "SITE_TITLE": "OCEN Registry",
    "SITE_HEADER": "OCEN Registry",
    "SITE_SUBHEADER": "Participant registry and auth",
    "SITE_SYMBOL": "hub",
    "SITE_URL": None,  # the registry has no public site: no "View site" link back to the admin
    "SITE_FAVICONS": [{"rel": "icon", "type": "image/svg+xml", "href": "/favicon.ico"}],
    "SHOW_VIEW_ON_SITE": False,
    "SHOW_HISTORY": False,  # a participant's history is its timeline, a button on its page
    "DASHBOARD_CALLBACK": "participants.admin.dashboard.dashboard_callback",
    "STYLES": [lambda request: f"/{STATIC_URL}registry/console.css"],
    "SIDEBAR": {"show_search": False, "show_all_applications": False},
    # The operator's own pages, in the account menu (participants/admin/account.py).
    "ACCOUNT": {
        "navigation": [
            {"title": "Your sessions", "link": "/admin/account/sessions/"},
            {"title": "Add a second factor", "link": "/admin/account/second-factor/enrol/"},
        ]
    },
    "COLORS": {
        "primary": {
            shade: f"oklch({lightness}% {chroma} 200)"
            for shade, lightness, chroma in zip(
                ("50", "100", "200", "300", "400", "500", "600", "700", "800", "900", "950"),
                (98, 95, 90, 83, 72, 60, 50, 42, 35, 29, 20),
                (0.014, 0.03, 0.05, 0.08, 0.1, 0.1, 0.09, 0.08, 0.07, 0.06, 0.05),
                strict=True,
            )
        }
    },
}

# Signing in at /admin/login/ itself lands on the console (unfold's login form carries no `next` field).
LOGIN_REDIRECT_URL = "admin:index"

# Exports (participants/admin/exports.py): a cell a spreadsheet would run as a formula (=, +, -, @) is escaped.
IMPORT_EXPORT_ESCAPE_FORMULAE_ON_EXPORT = True

ROOT_URLCONF = "ocen_registry.urls"
WSGI_APPLICATION = "ocen_registry.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database ---------------------------------------------------------------
DATABASE_URL = env_str("DATABASE_URL")
if not DATABASE_URL:
    if not DEBUG:
        raise ImproperlyConfigured("DATABASE_URL must be set when DJANGO_DEBUG is off (PostgreSQL)")
    (BASE_DIR / "var").mkdir(exist_ok=True)
    DATABASE_URL = f"sqlite:///{BASE_DIR / 'var' / 'db.sqlite3'}"
DATABASES = {
    "default": dj_database_url.parse(
        DATABASE_URL,
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60),
        # Off, as Django's default: a health check is a SELECT 1 round trip on every request, while a
        # connection that broke is closed anyway at the end of the request that met the error.
        conn_health_checks=env_bool("DATABASE_CONN_HEALTH_CHECKS", False),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and env_bool("DATABASE_PREPARED_STATEMENTS", True):
    # Server-side binding lets psycopg prepare statements that repeat (every token grant and registry
    # read), so PostgreSQL stops parsing and planning them each time. Turn off behind a PgBouncer in
    # transaction-pooling mode, which cannot keep prepared statements. Options DATABASE_URL carries
    # (sslmode=require, …) are kept.
    DATABASES["default"].setdefault("OPTIONS", {}).update(server_side_binding=True, prepare_threshold=5)
# Token rows commit without waiting for their WAL flush (PostgreSQL's synchronous_commit off, for
# that one statement only). A crash can lose the last few hundred milliseconds of issued tokens,
# which then read as revoked: the participant asks for a new one. Everything else commits durably.
OCEN_TOKEN_ASYNC_COMMIT = env_bool("OCEN_TOKEN_ASYNC_COMMIT", True)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The quickstart's SQLite builds the sync index without its INCLUDE columns; that is fine there.
    SILENCED_SYSTEM_CHECKS = ["models.W040"]
    # Its server, worker and the commands beside them share one file: with write-ahead logging readers go on while
    # one writes, and a writer takes the lock when its transaction starts and waits up to 20 s for it, instead of
    # failing with "database is locked".
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        init_command="PRAGMA journal_mode=WAL;", timeout=20, transaction_mode="IMMEDIATE"
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache --------------------------------------------------------------------
REDIS_URL = (env_str("REDIS_URL") or "").strip()
# Without REDIS_URL, `check --deploy` fails in production unless this says the registry runs as one process.
OCEN_SINGLE_PROCESS_ACKNOWLEDGED = env_bool("OCEN_SINGLE_PROCESS_ACKNOWLEDGED", False)
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- Passwords and client secrets ------------------------------------------------
# Staff passwords keep Django's slow default. Client secrets are 256-bit random values,
# so a salted HMAC-SHA256 is as strong as any KDF for them and costs microseconds
# (see docs/decisions.md); django-oauth-toolkit picks it by name below.
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "participants.hashers.ClientSecretHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
    # Not a rule for passwords: its hook ends the user's other console sessions when a password changes.
    {"NAME": "participants.operators.EndOtherSessionsOnPasswordChange"},
]

# --- Internationalisation -------------------------------------------------------
LANGUAGE_CODE = "en"
TIME_ZONE = "Asia/Kolkata"
USE_I18N = True
USE_TZ = True
FORMAT_MODULE_PATH = ["ocen_registry.formats"]  # times shown with their zone's name (2026-12-02 12:04:05 IST)

# --- Static files -------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = Path(env_str("DJANGO_STATIC_ROOT", str(BASE_DIR / "staticfiles")))
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # WhiteNoise warns on every request while it is missing
# Development serves static files (admin, API docs) straight from the apps; production runs collectstatic.
WHITENOISE_USE_FINDERS = DEBUG
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# --- Security (production) -----------------------------------------------------------
BEHIND_TLS_PROXY = env_bool("DJANGO_BEHIND_TLS_PROXY", False)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if BEHIND_TLS_PROXY else None
# How many reverse proxies in front of the app each append to X-Forwarded-For; the caller's address is
# the entry that many from the right (participants/remote.py). 0: REMOTE_ADDR is the caller.
OCEN_TRUSTED_PROXY_COUNT = env_int("OCEN_TRUSTED_PROXY_COUNT", 1 if BEHIND_TLS_PROXY else 0, maximum=10)
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", not DEBUG)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]  # load balancers probe over plain http inside the network
SECURE_HSTS_SECONDS = env_int("DJANGO_HSTS_SECONDS", 0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = env_bool("DJANGO_HSTS_PRELOAD", not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = env_int("DJANGO_SESSION_COOKIE_AGE", 8 * 3600, minimum=60)
# A console session unused this long ends (besides SESSION_COOKIE_AGE, its absolute lifetime).
DJANGO_SESSION_IDLE_SECONDS = env_int("DJANGO_SESSION_IDLE_SECONDS", 30 * 60, minimum=60)
# Operators' second factor: required (a staff user without one is taken to enrolment and can do nothing
# else), optional (offered), or off. `check --deploy` refuses off in production unless acknowledged.
OCEN_ADMIN_2FA = env_choice("OCEN_ADMIN_2FA", "optional" if DEBUG else "required", ("required", "optional", "off"))
OCEN_ADMIN_2FA_OFF_ACKNOWLEDGED = env_bool("OCEN_ADMIN_2FA_OFF_ACKNOWLEDGED", False)
# The registry's name as participants' records show it (approvedBy: a display name, never a staff login), and
# the label authenticator apps show beside an operator's codes.
OCEN_REGISTRY_NAME = env_str("OCEN_REGISTRY_NAME", "OCEN Registry").strip() or "OCEN Registry"
OTP_TOTP_ISSUER = OCEN_REGISTRY_NAME
# django-otp's own throttling holds a device back for everyone, from anywhere: whoever has the password could
# aim it at the operator. Wrong codes are counted by django-axes instead, per user name and address.
OTP_TOTP_THROTTLE_FACTOR = 0
OTP_STATIC_THROTTLE_FACTOR = 0
X_FRAME_OPTIONS = "DENY"

# --- Logging ------------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"()": "ocen_registry.logs.UTCFormatter", "format": "%(asctime)s %(levelname)s %(name)s %(message)s"}
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("DJANGO_LOG_LEVEL", "INFO")},
    # django-oauth-toolkit logs request bodies at DEBUG: keep it above that so secrets never reach logs.
    "loggers": {
        "oauth2_provider": {"level": "WARNING"},
        "oauthlib": {"level": "WARNING"},
        # django-axes announces itself at INFO on every start (and would clutter command output).
        "axes": {"level": "WARNING"},
    },
}

# --- OCEN registry -------------------------------------------------------------------------
OCEN_ISSUER = env_str("OCEN_ISSUER", "http://localhost:8000/auth").rstrip("/")
_issuer = urlsplit(OCEN_ISSUER)
try:
    _issuer.port  # noqa: B018 — parsed here so that a bad one is this message, not a traceback later
except ValueError:
    raise ImproperlyConfigured(
        f"OCEN_ISSUER has a port that is not a number from 0 to 65535: {OCEN_ISSUER!r}"
    ) from None
if _issuer.scheme not in ("http", "https") or not _issuer.hostname or _issuer.query or _issuer.fragment:
    raise ImproperlyConfigured(
        "OCEN_ISSUER must be an absolute http(s) URL without query or fragment (RFC 8414 §2), such as "
        f"https://registry.example.in/auth, not {OCEN_ISSUER!r}"
    )
# Operators' passkeys (django-otp-webauthn), a second factor only, bound to the console's host: OCEN_WEBAUTHN_ORIGIN,
# else the issuer's origin when it is https. Browsers make passkeys over plain http only for localhost, so an
# http issuer (development, the quickstart) means http://localhost on its port. Changing the host orphans every
# registered passkey.
OTP_WEBAUTHN_ALLOW_PASSWORDLESS_LOGIN = False
OTP_WEBAUTHN_RP_NAME = OTP_TOTP_ISSUER
_ISSUER_ORIGIN = _issuer
_CONSOLE_ORIGIN = (
    env_str("OCEN_WEBAUTHN_ORIGIN", "")
    or (f"https://{_ISSUER_ORIGIN.netloc}" if _ISSUER_ORIGIN.scheme == "https" else None)
    or f"http://localhost{f':{_ISSUER_ORIGIN.port}' if _ISSUER_ORIGIN.port else ''}"
).rstrip("/")
OTP_WEBAUTHN_RP_ID = urlsplit(_CONSOLE_ORIGIN).hostname or "localhost"
OTP_WEBAUTHN_ALLOWED_ORIGINS = [_CONSOLE_ORIGIN]
# Where the OAuth endpoints are served: the issuer's path (contract §4), e.g. "auth".
OCEN_ISSUER_PATH = _issuer.path.strip("/")
OCEN_TOKEN_AUDIENCE = env_str("OCEN_TOKEN_AUDIENCE", "ocen").strip()
if not OCEN_TOKEN_AUDIENCE:
    raise ImproperlyConfigured("OCEN_TOKEN_AUDIENCE must not be empty (default: ocen)")
# How roles are spelled on the wire: the registry's names (DERIVED_DATA_PARTNER), or the OCEN reference
# client's enum (DERIVED_DATA_PROVIDER). Input accepts both always.
OCEN_ROLE_SPELLING = env_choice("OCEN_ROLE_SPELLING", "registry", ("registry", "reference"))
# Participant key types accepted: RSA (what every OCEN reference verifier reads), or RSA,EC (P-256 too).
OCEN_PARTICIPANT_KEY_TYPES = [kind.upper() for kind in env_list("OCEN_PARTICIPANT_KEY_TYPES", ["RSA"])]
if sorted(set(OCEN_PARTICIPANT_KEY_TYPES)) not in (["RSA"], ["EC", "RSA"]):
    raise ImproperlyConfigured(f"OCEN_PARTICIPANT_KEY_TYPES must be RSA, or RSA,EC, not {OCEN_PARTICIPANT_KEY_TYPES!r}")
OCEN_ACCESS_TOKEN_TTL = env_int("OCEN_ACCESS_TOKEN_TTL", 3600, minimum=60, maximum=86400)
OCEN_ALLOW_LOOPBACK_HTTP = env_bool("OCEN_ALLOW_LOOPBACK_HTTP", DEBUG)
# Four-eyes: the administrator who records a participant may not approve it.
OCEN_FOUR_EYES = env_bool("OCEN_FOUR_EYES", False)
# Fernet keys for the registry's signing keys at rest (first encrypts, all decrypt). Required in
# production; development derives one from DJANGO_SECRET_KEY. Generate one with:
#   python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"
OCEN_SIGNING_KEY_ENCRYPTION_KEYS = env_list("OCEN_SIGNING_KEY_ENCRYPTION_KEYS", [])
if not OCEN_SIGNING_KEY_ENCRYPTION_KEYS and not DEBUG:
    raise ImproperlyConfigured(
        "OCEN_SIGNING_KEY_ENCRYPTION_KEYS must be set when DJANGO_DEBUG is off (one or more Fernet keys, "
        "comma-separated; docs/deployment.md says how to make one)"
    )
for _key in OCEN_SIGNING_KEY_ENCRYPTION_KEYS:
    try:
        Fernet(_key)
    except ValueError:
        raise ImproperlyConfigured(
            "OCEN_SIGNING_KEY_ENCRYPTION_KEYS must hold Fernet keys (32 url-safe base64-encoded bytes each)"
        ) from None
# Create a signing key on first need (development); production runs `manage.py create_signing_key`.
OCEN_AUTO_CREATE_SIGNING_KEY = env_bool("OCEN_AUTO_CREATE_SIGNING_KEY", DEBUG)
OCEN_CLOCK_LEEWAY = env_int("OCEN_CLOCK_LEEWAY", 60, maximum=600)
# max-age of cacheable registry reads (GetParticipantDetails and friends).
OCEN_REGISTRY_MAX_AGE = env_int("OCEN_REGISTRY_MAX_AGE", 300, maximum=86400)
# Days of the change feed (GET /service/changes) kept; a reader further behind takes a snapshot.
OCEN_CHANGE_RETENTION_DAYS = env_int("OCEN_CHANGE_RETENTION_DAYS", 30, minimum=1, maximum=3650)
# Webhook deliveries (authapi/webhooks.py), made by `manage.py run_worker` from the task queue in this database.
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
# Seconds before the first retry of a failed delivery, doubled after each failure up to the maximum.
OCEN_WEBHOOK_BACKOFF_SECONDS = env_float("OCEN_WEBHOOK_BACKOFF_SECONDS", 5.0, minimum=0.05)
OCEN_WEBHOOK_BACKOFF_MAX_SECONDS = env_float("OCEN_WEBHOOK_BACKOFF_MAX_SECONDS", 3600.0, minimum=0.05)
# A subscription whose deliveries have failed for this long is paused (and audited) until resumed.
OCEN_WEBHOOK_PAUSE_AFTER_SECONDS = env_float("OCEN_WEBHOOK_PAUSE_AFTER_SECONDS", 86400.0, minimum=1)
# How long a receiver has to answer one delivery.
OCEN_WEBHOOK_TIMEOUT_SECONDS = env_float("OCEN_WEBHOOK_TIMEOUT_SECONDS", 10.0, minimum=0.5, maximum=60)
# Abuse limits (counters in the shared cache: set REDIS_URL when running several servers). Failed
# client authentications are counted per source address, and per source address and client ID.
OCEN_TOKEN_FAILURE_LIMIT = env_int("OCEN_TOKEN_FAILURE_LIMIT", 10, minimum=1)
OCEN_TOKEN_ADDRESS_FAILURE_LIMIT = env_int("OCEN_TOKEN_ADDRESS_FAILURE_LIMIT", 100, minimum=1)
OCEN_TOKEN_LOCKOUT_SECONDS = env_int("OCEN_TOKEN_LOCKOUT_SECONDS", 300, minimum=1)
OCEN_SERVICE_RATE_PER_MINUTE = env_int("OCEN_SERVICE_RATE_PER_MINUTE", 6000, minimum=1)
# How long a retired participant key still verifies signatures (in-flight messages, caches).
OCEN_KEY_RETIREMENT_GRACE = env_int("OCEN_KEY_RETIREMENT_GRACE", 86400, minimum=0)

# Named explicitly: our models point at django-oauth-toolkit's swappable models.
OAUTH2_PROVIDER_APPLICATION_MODEL = "oauth2_provider.Application"
OAUTH2_PROVIDER_ACCESS_TOKEN_MODEL = "oauth2_provider.AccessToken"  # noqa: S105 — a model name
OAUTH2_PROVIDER = {
    "CLIENT_SECRET_HASHER": "ocen_hmac_sha256",
    "OAUTH2_VALIDATOR_CLASS": "authapi.oauth.RegistryOAuth2Validator",
    "ACCESS_TOKEN_GENERATOR": "authapi.oauth.signed_access_token",
    "ACCESS_TOKEN_EXPIRE_SECONDS": OCEN_ACCESS_TOKEN_TTL,
    "SCOPES": {"ocen": "OCEN network APIs"},
    "DEFAULT_SCOPES": ["ocen"],
    # RFC 9700 (OAuth 2.0 Security BCP): only client credentials are used here, so take every
    # compliant behaviour: no implicit or password grants, header-only bearer tokens, hashed storage.
    "COMPLIANT_BCP_RFC9700_IMPLICIT_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PASSWORD_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PKCE_METHOD": True,
    "COMPLIANT_BCP_RFC9700_ACCESS_TOKEN_TRANSPORT": True,
    "COMPLIANT_BCP_RFC9700_AUTHZ_RESPONSE_ISS": True,
    "COMPLIANT_BCP_RFC9700_TOKEN_STORAGE": True,
    "COMPLIANT_BCP_RFC9700_REFRESH_TOKEN": True,
    "COMPLIANT_BCP_RFC9700_REDIRECT_URI_SCHEME": True,
    "COMPLIANT_BCP_RFC9700_REDIRECT_URI_MATCHING": True,
    "COMPLIANT_BCP_RFC9700_PKCE_REQUIRED": True,
    "ALLOWED_REDIRECT_URI_SCHEMES": ["https"],
    "REFRESH_TOKEN_REUSE_PROTECTION": True,
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["authapi.authentication.ParticipantTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["authapi.authentication.HasParticipantToken"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["authapi.parsers.StrictJSONParser"],
    "EXCEPTION_HANDLER": "authapi.errors.registry_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": None,
}
DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024

SPECTACULAR_SETTINGS = {
    "TITLE": "OCEN Registry API",
    "DESCRIPTION": "Participant Registry and Auth service for OCEN 4.0: GenerateAccessToken, keys and "
    "discovery, introspection and revocation, GetParticipantDetails.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # The webhook event types appear in several shapes (a change's type, a subscription's events): one enum.
    "ENUM_NAME_OVERRIDES": {"EventType": "authapi.schemas.EVENT_TYPES"},
    # Role names as OCEN_ROLE_SPELLING spells them, then drf-spectacular's own enum components.
    "POSTPROCESSING_HOOKS": [
        "authapi.schema_extensions.role_spelling",
        "drf_spectacular.hooks.postprocess_schema_enums",
        # Last: the enum hook rebuilds the components from drf-spectacular's registry.
        "authapi.schema_extensions.contract_headers",
    ],
    "APPEND_COMPONENTS": {
        "securitySchemes": {"clientSecretBasic": {"type": "http", "scheme": "basic"}},
    },
}
