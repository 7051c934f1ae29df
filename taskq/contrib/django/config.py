"""taskq settings from Django's settings, and the discovery of task modules in installed apps."""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
from pathlib import Path
from typing import Any

from taskq.config import Settings
from taskq.errors import ConfigurationError

SETTING = "TASKQ"
DEFAULT_TASK_MODULE = "tasks"
_OWN_KEYS = ("task_modules",)  # keys of TASKQ that are this integration's, not Settings'


def _options() -> dict[str, Any]:
    from django.conf import settings

    raw = getattr(settings, SETTING, None) or {}
    if not isinstance(raw, dict):
        raise ConfigurationError(f"settings.{SETTING} must be a dict, e.g. "
                                 "{'url': 'redis://localhost:6379/0'}")
    return {str(k).lower(): v for k, v in raw.items()}


def settings_from_django() -> Settings:
    """taskq.Settings from `settings.TASKQ` (keys: any Settings field, any case); fields not
    given come from the environment (TASKQ_REDIS_URL, REDIS_URL, ...) as they would outside
    Django."""
    options = {k: v for k, v in _options().items() if k not in _OWN_KEYS}
    known = {f.name for f in dataclasses.fields(Settings)}
    unknown = sorted(set(options) - known)
    if unknown:
        raise ConfigurationError(f"settings.{SETTING} has unknown keys {unknown}; known: "
                                 f"{sorted(known | set(_OWN_KEYS))}")
    if "home" in options:
        options["home"] = Path(options["home"])
    url = options.pop("url", None)
    settings = Settings.from_env(**options)
    return settings.with_url(url) if url else settings


def discover_task_modules() -> list[str]:
    """Import `<app>.tasks` of every installed app that has one; returns their names. A tasks
    module that fails to import raises (a broken module must not be skipped silently)."""
    from django.apps import apps

    name = str(_options().get("task_modules", DEFAULT_TASK_MODULE))
    found = []
    for app in apps.get_app_configs():
        module = f"{app.name}.{name}"
        if not _has_package(app.name) or importlib.util.find_spec(module) is None:
            continue
        importlib.import_module(module)
        found.append(module)
    return found


def _has_package(name: str) -> bool:
    """Only packages hold sub-modules (find_spec on a module's child would raise)."""
    spec = importlib.util.find_spec(name)
    return spec is not None and spec.submodule_search_locations is not None
