"""The one settings module. Everything a deployment changes comes from the environment;
see the configuration table in README.md.
"""

from __future__ import annotations

import os
import secrets
from importlib.util import find_spec
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy

from mesoclinic.env import env_bool, env_int, env_list, env_str

PACKAGE_DIR = Path(__file__).resolve().parent

DEBUG = env_bool("MESOCLINIC_DEBUG", default=False)

DATA_DIR = Path(
    env_str("MESOCLINIC_DATA_DIR")
    or Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share")) / "mesoclinic"
).resolve()


def ensure_data_dir(path: Path) -> Path:
    """Create the data directory and prove it is writable, or say why not."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".write-test"
        probe.write_text("ok")
        probe.unlink()
    except OSError as exc:
        raise ImproperlyConfigured(
            f"The data directory {path} is not writable ({exc.strerror}); "
            "set MESOCLINIC_DATA_DIR to a directory this user can write."
        ) from exc
    return path


def _secret_key() -> str:
    key = env_str("MESOCLINIC_SECRET_KEY")
    if key:
        if not DEBUG and len(key) < 50:
            raise ImproperlyConfigured("MESOCLINIC_SECRET_KEY must be at least 50 characters long.")
        return key
    if not DEBUG:
        raise ImproperlyConfigured(
            "MESOCLINIC_SECRET_KEY (or MESOCLINIC_SECRET_KEY_FILE) must be set when "
            "MESOCLINIC_DEBUG is off; generate one with: "
            "python -c 'import secrets; print(secrets.token_urlsafe(50))'"
        )
    # Demo and development only: keep one generated key in the data directory so that
    # sessions survive restarts.
    key_file = ensure_data_dir(DATA_DIR) / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(50))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


SECRET_KEY = _secret_key()

ALLOWED_HOSTS = env_list(
    "MESOCLINIC_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]", "testserver"]
)
CSRF_TRUSTED_ORIGINS = env_list("MESOCLINIC_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_htmx",
    "ninja",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_email",
    "axes",
    "simple_history",
    # mesoclinic, in the order of the flow (docs/architecture.md): an app imports only
    # the apps listed before it.
    "mesoclinic.catalogue",
    "mesoclinic.clinics",
    "mesoclinic.patients",
    "mesoclinic.formulas",
    "mesoclinic.courses",
    "mesoclinic.reminders",
    "mesoclinic.calendars",
    "mesoclinic.consent",
    "mesoclinic.screening",
    "mesoclinic.charts",
    "mesoclinic.followup",
    "mesoclinic.outcomes",
    "mesoclinic.portal",
    "mesoclinic.evidence",
    "mesoclinic.api",
    "mesoclinic.demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "mesoclinic.clinics.middleware.StaffTwoFactorMiddleware",
    "mesoclinic.clinics.middleware.ClinicTimeZoneMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "mesoclinic.api.middleware.RefuseNulMiddleware",
    # Last, as django-axes requires: it turns a lockout into its response.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "mesoclinic.urls"
WSGI_APPLICATION = "mesoclinic.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [PACKAGE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "mesoclinic.navigation.navigation",
            ],
        },
    },
]


# WAL lets readers work while one writer writes; IMMEDIATE takes the write lock at BEGIN so
# concurrent writers queue on the busy timeout instead of failing mid-transaction with
# "database is locked".
SQLITE_OPTIONS: dict[str, object] = {
    "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
    "transaction_mode": "IMMEDIATE",
    "timeout": 20,
}


def _databases() -> dict[str, dict[str, object]]:
    url = env_str("DATABASE_URL")
    if not url:
        return {
            "default": {
                "ENGINE": "django.db.backends.sqlite3",
                "NAME": DATA_DIR / "mesoclinic.sqlite3",
                "OPTIONS": dict(SQLITE_OPTIONS),
            }
        }
    examples = "postgres://user:password@host:5432/name or sqlite:////absolute/path.sqlite3"
    scheme, separator, _ = url.partition("://")
    if not separator:
        raise ImproperlyConfigured(f"DATABASE_URL is not a URL; write it as {examples}.")
    # Checked here rather than left to dj-database-url, whose error lists every scheme it
    # knows, most of which mesoclinic does not support.
    if scheme not in ("postgres", "postgresql", "pgsql", "sqlite"):
        raise ImproperlyConfigured(
            f"DATABASE_URL names a database mesoclinic does not support ({scheme}://); "
            f"use PostgreSQL or SQLite: {examples}."
        )
    try:
        config = dj_database_url.parse(url, conn_max_age=env_int("MESOCLINIC_DB_CONN_MAX_AGE", 60))
    except ValueError as exc:  # the message names the part, never the password
        raise ImproperlyConfigured(
            f"DATABASE_URL cannot be read ({str(exc).rstrip('.')}); write it as {examples}, "
            "percent-encoding special characters in the password."
        ) from exc
    engine = config.get("ENGINE", "")
    name = str(config.get("NAME") or "")
    if (
        engine == "django.db.backends.sqlite3"
        and name != ":memory:"
        and not Path(name).is_absolute()
    ):
        # A relative path would put the database wherever the command happens to run.
        raise ImproperlyConfigured(
            f"DATABASE_URL names a relative SQLite path ({name or 'none'}); use an absolute "
            "one, with four slashes: sqlite:////absolute/path.sqlite3."
        )
    if engine == "django.db.backends.sqlite3":
        config.setdefault("OPTIONS", {}).update(SQLITE_OPTIONS)
    if engine == "django.db.backends.postgresql":
        config.setdefault("OPTIONS", {})["connect_timeout"] = env_int(
            "MESOCLINIC_DB_CONNECT_TIMEOUT", 5
        )
    return {"default": config}  # type: ignore[dict-item]


DATABASES = _databases()
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "clinics.User"

PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    # Kept so that hashes written by another hasher still verify and are upgraded on login.
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTHENTICATION_BACKENDS = [
    # First, so that a locked-out user is refused before the password is even checked.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env_int("MESOCLINIC_LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = env_int("MESOCLINIC_LOGIN_COOLOFF_MINUTES", 15) / 60  # hours
# Lock the username whatever the address, so that spreading guesses over many addresses
# does not help; a locked user is freed by the cool-off or an administrator.
AXES_LOCKOUT_PARAMETERS = ["username"]
# axes warns that this ignores the address; deliberate: a clinic's staff share one address
# behind its router, and one mistyping colleague must not lock out everyone.
SILENCED_SYSTEM_CHECKS = ["axes.W006"]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
OTP_TOTP_ISSUER = "mesoclinic"
# The portal's sign-in by a one-time code emailed to the patient (mesoclinic/portal/signin.py):
# the message in the patient's language, the code valid 10 minutes; django-otp's own cooldown
# (one code a minute) and throttling (a growing wait after each wrong code) apply.
OTP_EMAIL_SUBJECT = gettext_lazy("Your sign-in code")
OTP_EMAIL_BODY_TEMPLATE_PATH = "portal/access/code_email.txt"
OTP_EMAIL_TOKEN_VALIDITY = 10 * 60

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("fr", "Français")]
TIME_ZONE = "UTC"  # storage and server time; each clinic shows its own zone
USE_I18N = True
# The interface's translations (the portal's, first); clinical content has its own per language.
LOCALE_PATHS = [PACKAGE_DIR / "locale"]
USE_TZ = True

STATIC_URL = "static/"
# plotly's JavaScript ships in its wheel: served as static/plotly/plotly.min.js, never a CDN.
STATICFILES_DIRS = [
    PACKAGE_DIR / "static",
    ("plotly", Path(find_spec("plotly").origin).parent / "package_data"),  # type: ignore[arg-type, union-attr]
]
STATIC_ROOT = DATA_DIR / "static"
MEDIA_URL = "media/"
MEDIA_ROOT = Path(env_str("MESOCLINIC_MEDIA_DIR") or DATA_DIR / "media")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
# Tests and the demo run without collectstatic: let WhiteNoise find files in the apps.
WHITENOISE_USE_FINDERS = True
WHITENOISE_MANIFEST_STRICT = False

EMAIL_BACKEND = env_str("MESOCLINIC_EMAIL_BACKEND") or (
    "django.core.mail.backends.smtp.EmailBackend"
    if env_str("MESOCLINIC_EMAIL_HOST")
    else "django.core.mail.backends.console.EmailBackend"
)
EMAIL_HOST = env_str("MESOCLINIC_EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("MESOCLINIC_EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("MESOCLINIC_EMAIL_USER")
EMAIL_HOST_PASSWORD = env_str("MESOCLINIC_EMAIL_PASSWORD")
EMAIL_USE_TLS = env_bool("MESOCLINIC_EMAIL_USE_TLS", default=False)
DEFAULT_FROM_EMAIL = env_str("MESOCLINIC_EMAIL_FROM", "mesoclinic@localhost")

REDIS_URL = env_str("MESOCLINIC_REDIS_URL")
CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
        if REDIS_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

SESSION_COOKIE_AGE = env_int("MESOCLINIC_SESSION_SECONDS", 30 * 60)
SESSION_SAVE_EVERY_REQUEST = True  # the age counts from the last request: inactivity expiry
SESSION_COOKIE_HTTPONLY = True
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

if not DEBUG:
    # Behind TLS in production; MESOCLINIC_INSECURE_HTTP=1 allows plain HTTP for a
    # local trial of production settings (the test suite and the demo use it).
    _https = not env_bool("MESOCLINIC_INSECURE_HTTP", default=False)
    SESSION_COOKIE_SECURE = _https
    CSRF_COOKIE_SECURE = _https
    SECURE_SSL_REDIRECT = _https
    SECURE_HSTS_SECONDS = 31536000 if _https else 0
    SECURE_HSTS_INCLUDE_SUBDOMAINS = _https
    SECURE_HSTS_PRELOAD = _https
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    # Load balancers probe /health over plain HTTP on the private network; a redirect to
    # HTTPS would read as a failed check.
    SECURE_REDIRECT_EXEMPT = [r"^health$"]

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("MESOCLINIC_LOG_LEVEL", "WARNING")},
}

# The catalogue, screening windows and protocol defaults live in the catalogue's data
# files, not here.
