"""Settings of the test project: django-helpdesk on SQLite, everything it writes under one data directory.

``HELPDESK_DATA_DIR`` (required) holds the database, the uploaded media and the
mails the helpdesk sends (one file per message, read by tests).
``HELPDESK_SMTP_PORT`` sends mail over SMTP to 127.0.0.1 on that port instead;
``HELPDESK_SETTINGS_JSON`` (a JSON object) overrides any setting.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

DATA_DIR = Path(os.environ["HELPDESK_DATA_DIR"])

SECRET_KEY = "test-only-django-helpdesk-secret-key-not-for-production"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "[::1]"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.sites",  # helpdesk builds absolute URLs for mails from the Site
    "django.contrib.humanize",  # helpdesk templates format elapsed times with it
    "rest_framework",  # helpdesk's /api/
    "rest_framework.authtoken",  # API tokens (Authorization: Token ...), besides Basic
    "helpdesk",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",  # reads the django_language cookie
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "tests.support.django_helpdesk.middleware.AnalyticsStandIn",
]

# REST framework's default (session, then Basic) plus tokens. Session first: failed credentials answer 403.
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.BasicAuthentication",
        "rest_framework.authentication.TokenAuthentication",
    ],
}

ROOT_URLCONF = "tests.support.django_helpdesk.urls"
WSGI_APPLICATION = "tests.support.django_helpdesk.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": DATA_DIR / "helpdesk.sqlite3",
        "OPTIONS": {"timeout": 20},
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("nb", "Norsk bokmål")]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
MEDIA_URL = "/media/"
MEDIA_ROOT = DATA_DIR / "media"

# Messages ("Ticket updated", "You are logged out") travel in the `messages` cookie.
MESSAGE_STORAGE = "django.contrib.messages.storage.cookie.CookieStorage"

SITE_ID = 1
LOGIN_URL = "helpdesk:login"
LOGIN_REDIRECT_URL = "helpdesk:home"

EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
EMAIL_FILE_PATH = DATA_DIR / "mail"
DEFAULT_FROM_EMAIL = "helpdesk@example.com"
if os.environ.get("HELPDESK_SMTP_PORT"):
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_HOST = "127.0.0.1"
    EMAIL_PORT = int(os.environ["HELPDESK_SMTP_PORT"])
    EMAIL_TIMEOUT = 10

HELPDESK_TEAMS_MODE_ENABLED = False  # no pinax-teams
HELPDESK_KB_ENABLED = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"stderr": {"class": "logging.StreamHandler"}},
    "loggers": {"django.request": {"handlers": ["stderr"], "level": "ERROR"}},
}

globals().update(json.loads(os.environ.get("HELPDESK_SETTINGS_JSON", "{}")))
