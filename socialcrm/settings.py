"""socialcrm settings: one module, driven by the environment.

Only what differs between deployments is read here (see README "Configuration"); behaviour an
admin changes lives in the database. With no DATABASE_URL and no REDIS_URL the app runs embedded:
SQLite, the in-memory channel layer and Celery tasks executed in-process.
"""

import sys
from pathlib import Path
from urllib.parse import urlsplit

from celery.schedules import crontab
from csp.constants import NONE, SELF

from socialcrm import env

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"
VAR_DIR.mkdir(exist_ok=True)

try:
    SECRET_KEY = env.read_secret_key("SECRET_KEY", key_file=BASE_DIR / ".secret_key")
    # Channel secrets are stored encrypted under these (socialcrm.encryption); see README "Rotating keys".
    CHANNEL_SECRETS_KEYS = env.read_fernet_keys("CHANNEL_SECRETS_KEYS", key_file=BASE_DIR / ".channel_secrets_key")
    DEBUG = env.read_bool("DEBUG", default=False)
    HOST = env.os.environ.get("HOST", "127.0.0.1").strip() or "127.0.0.1"
    PORT = env.read_port("PORT", default=8000)
    # The brand's own time zone: report days and weeks begin at its midnight.
    BRAND_TIME_ZONE = env.read_time_zone("BRAND_TIME_ZONE", default="UTC")
    ALLOWED_HOSTS = env.read_list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]", HOST])
    DATABASES = {"default": env.read_database("DATABASE_URL", default_sqlite=BASE_DIR / "db.sqlite3")}
    REDIS_URL = env.read_redis_url("REDIS_URL")
    # Behind TLS (directly or through a proxy that sets X-Forwarded-Proto): secure cookies, HSTS.
    HTTPS = env.read_bool("HTTPS", default=False)
    HSTS_INCLUDE_SUBDOMAINS = env.read_bool("HSTS_INCLUDE_SUBDOMAINS", default=True)
    # Feeds (and anything else socialcrm.fetch gets) may be on loopback or private networks: on-premise only.
    ALLOW_PRIVATE_FETCH = env.read_bool("ALLOW_PRIVATE_FETCH", default=False)
    # The origins of the site's own pages, the only ones whose socket is accepted (socialcrm/origins.py,
    # which also accepts the origin of the Host the browser connected to, as Django's CSRF check does).
    SITE_ORIGINS = env.read_origins("SITE_ORIGINS", default=env.own_origins(ALLOWED_HOSTS, port=PORT, https=HTTPS))
except env.ConfigError as error:
    # One line naming the variable, no traceback: an operator's typo is not a crash.
    raise SystemExit(f"socialcrm: configuration error: {error}") from None

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django.contrib.postgres",
    "channels",
    "django_htmx",
    "template_partials",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "socialcrm",
    "customers",
    "triage",
    "inbox",
    "profiles",
    "reports",
    "demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "socialcrm.errors.MachineDoorErrorsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_permissions_policy.PermissionsPolicyMiddleware",
    "socialcrm.staticfiles.StaticFilesMiddleware",
    "socialcrm.staticfiles.NotStoredMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "socialcrm.preferences.PreferencesMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    # Managers and admins enrol a second factor before anything else (after auth, allauth and messages).
    "socialcrm.accounts.SecondFactorRequiredMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # After HtmxMiddleware: a refused htmx request is answered in text/plain, a page through 400.html.
    "socialcrm.errors.BadRequestMiddleware",
]

ROOT_URLCONF = "socialcrm.urls"
ASGI_APPLICATION = "socialcrm.asgi.application"

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
                "socialcrm.preferences.context",
            ],
        },
    },
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]

# Accounts are made by admins (add_agent, Django admin); nobody signs up on their own.
ACCOUNT_ADAPTER = "socialcrm.accounts.AccountAdapter"
ACCOUNT_LOGIN_METHODS = {"username", "email"}
ACCOUNT_FORMS = {"login": "socialcrm.accounts.LoginForm"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "username*", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = "none"
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = True
ACCOUNT_LOGIN_ON_PASSWORD_RESET = False
ACCOUNT_RATE_LIMITS = {"login_failed": "10/m/ip,5/5m/key"}
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = "socialcrm"
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "inbox:home"
LOGOUT_REDIRECT_URL = "account_login"

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [
    BASE_DIR / "static",
    # Front-end packages installed by npm from package.json, served under static/vendor/.
    ("vendor/chart.js", BASE_DIR / "node_modules" / "chart.js" / "dist"),
    ("vendor/swagger-ui", BASE_DIR / "node_modules" / "swagger-ui-dist"),
]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = DEBUG

# The ingest API takes bodies up to 5 MB; it answers 413 above that itself.
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

if HTTPS:
    SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = True
    SECURE_HSTS_SECONDS = 60 * 60 * 24 * 365
    # Subdomains too unless the operator says some are plain HTTP (HSTS_INCLUDE_SUBDOMAINS=false).
    SECURE_HSTS_INCLUDE_SUBDOMAINS = HSTS_INCLUDE_SUBDOMAINS
    CSRF_TRUSTED_ORIGINS = [f"https://{host}" for host in ALLOWED_HOSTS if host not in {"*"}]
SESSION_COOKIE_HTTPONLY = True
# Error reports (the DEBUG page, mails to admins) hide anything named like a secret, token or password.
DEFAULT_EXCEPTION_REPORTER_FILTER = "socialcrm.error_reports.SecretsHidingFilter"
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
# Preloading HSTS is a request an operator sends to the browser vendors for their whole domain,
# not something a setting can decide for them; `check --deploy` would otherwise always warn.
SILENCED_SYSTEM_CHECKS = ["security.W021"]
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
# Scripts, styles, images and sockets only from this origin; no inline script or style, no eval, no
# plugins, no <base>, never framed. Every page is built to need nothing more (tests/browser/test_csp.py
# loads each one in Chromium and fails on any violation). The inbox's socket is same-origin ws(s):,
# which 'self' covers.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "frame-ancestors": [NONE],
        "form-action": [SELF],
    }
}
# Powerful browser features no page here uses, switched off for every frame.
PERMISSIONS_POLICY = {
    feature: []
    for feature in (
        "accelerometer",
        "camera",
        "display-capture",
        "geolocation",
        "gyroscope",
        "magnetometer",
        "microphone",
        "payment",
        "usb",
    )
}

EMAIL_BACKEND = (
    "django.core.mail.backends.console.EmailBackend"
    if not env.os.environ.get("EMAIL_HOST")
    else "django.core.mail.backends.smtp.EmailBackend"
)
EMAIL_HOST = env.os.environ.get("EMAIL_HOST", "localhost")
# Seconds an SMTP connection may stay silent; without it a send could hang past the sweep's SEND_TIMEOUT.
EMAIL_TIMEOUT = 30

# Live events and background work: Redis when REDIS_URL is set, else in-process.
if REDIS_URL:
    LIVE_PREFIX = f"socialcrm:{urlsplit(REDIS_URL).path.strip('/') or '0'}:asgi"
    CHANNEL_LAYERS = {
        "default": {
            # Pub/sub: one Redis message per group event, fanned out to the sockets inside each Daphne
            # (the list-based layer pushes one per socket, and drops past its capacity). At most once,
            # like any layer: browsers notice gaps by sequence number and fetch again.
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            # Pub/sub ignores Redis's database number: the prefix carries it, so two deployments (or
            # test runs) on one Redis server, each on a database of its own, never hear each other.
            "CONFIG": {"hosts": [REDIS_URL], "prefix": LIVE_PREFIX},
        }
    }
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "scrm",
            # A Redis that is down answers "unavailable" in a second or two, not after a hung request.
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 2},
        }
    }
    CELERY_BROKER_URL = REDIS_URL
    CELERY_TASK_ALWAYS_EAGER = False
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    CELERY_BROKER_URL = "memory://localhost/"
    CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Enqueueing from a request gives up within a couple of seconds when the broker is down; what was
# stored is then found by the sweeps (see socialcrm.celery.Task).
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.5}
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE = {
    "sweep-lost-messages": {"task": "inbox.tasks.sweep_lost_messages", "schedule": 60.0},
    "poll-feeds-and-mailboxes": {"task": "inbox.tasks.poll_due_channels", "schedule": 60.0},
    "wake-snoozed-conversations": {"task": "inbox.tasks.wake_snoozed_conversations", "schedule": 60.0},
    # Alerts fall due at their own moments (an indexed column): a 5 s beat announces a breach within seconds.
    "check-sla-deadlines": {"task": "inbox.tasks.check_sla_deadlines", "schedule": 5.0},
    "sweep-stuck-replies": {"task": "inbox.tasks.sweep_stuck_replies", "schedule": 60.0},
    "retrain-classifiers-nightly": {
        "task": "triage.tasks.retrain_classifiers",
        "schedule": crontab(hour=3, minute=17),
        "kwargs": {"reason": "nightly"},
    },
}
CELERY_TIMEZONE = TIME_ZONE

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain", "stream": sys.stderr}},
    "filters": {"quiet_forbidden": {"()": "socialcrm.errors.QuietForbidden"}},
    "root": {"handlers": ["console"], "level": "INFO"},
    "loggers": {
        "django.request": {"filters": ["quiet_forbidden"]},
        "django.db.backends": {"level": "WARNING"},
        # In-process tasks would log a line per task into the web server's output.
        "celery.app.trace": {"level": "INFO" if REDIS_URL else "WARNING"},
    },
}
