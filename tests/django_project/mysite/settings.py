"""A tiny Django project for tests/test_contrib_django.py: SQLite, one app, taskq installed.
The database file and the Redis URL come from the environment the test sets."""

import os

SECRET_KEY = "tests-only"
DEBUG = False
USE_TZ = True
INSTALLED_APPS = ["django.contrib.contenttypes", "taskq.contrib.django", "shop"]
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ["SHOP_DB"],
        # The test runner builds its database in this same file, so that a worker process
        # (python -m django taskq worker) sees the rows the tests write.
        "TEST": {"NAME": os.environ["SHOP_DB"]},
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
TASKQ = {"url": os.environ["SHOP_REDIS_URL"], "prefix": "shop", "result_ttl": 600}
