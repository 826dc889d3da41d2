"""Django settings for the django-pyas2 test peer (run only inside the peer venv, var/as2-peer/venv).

Everything the peer writes goes under $AS2_PEER_DATA (a pytest temporary folder): its SQLite database and
django-pyas2's message store (MEDIA_ROOT).
"""

import os
from pathlib import Path

DATA = Path(os.environ["AS2_PEER_DATA"])
SECRET_KEY = "edihub-as2-peer-loopback-only"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth", "pyas2"]
MIDDLEWARE: list[str] = []
ROOT_URLCONF = "as2peer_urls"
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": str(DATA / "db.sqlite3"),
                         "OPTIONS": {"timeout": 30}}}
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
USE_TZ = True
MEDIA_ROOT = str(DATA / "media")
# AS2 bodies are large: Django's 2.5 MB default would answer a 50 MB message with HTTP 400 (RequestDataTooBig).
DATA_UPLOAD_MAX_MEMORY_SIZE = None
# No absolute PYAS2["DATA_DIR"]: django-pyas2 1.2.3 hands DATA_DIR/messages/... to default_storage, which Django
# >= 3.2.1 rejects as path traversal.  Inbox files land in MEDIA_ROOT/messages/<org>/inbox/<partner>/.
PYAS2 = {"MDN_URL": "http://127.0.0.1:1/set-at-start", "ASYNC_MDN_WAIT": 0, "MAX_RETRIES": 1}
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"pyas2": {"handlers": ["console"], "level": "INFO"},
                "pyas2lib": {"handlers": ["console"], "level": "WARNING"}},
}
