"""The procrastinate job app, on the same Postgres as everything else.

Services declare tasks on a ``procrastinate.Blueprint`` and register it, or better a function
returning a fresh one, under the ``ascent.jobs`` entry-point group
(``name = "package.module:blueprint"``); the app loads each
under its name as namespace, so the task ``ingest`` of ``shopbot`` is ``shopbot:ingest``.

Job code must be idempotent: a job whose worker dies is run again from the start.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from importlib.metadata import entry_points

import procrastinate

# Transient failures back off: 2, 4, 8, 16 s between the five attempts.
DEFAULT_RETRY = procrastinate.RetryStrategy(max_attempts=5, exponential_wait=2)


def load_object(spec: str) -> object:
    """Import ``package.module:attribute``."""
    module_name, _, attr = spec.partition(":")
    if not attr:
        raise ValueError(f"{spec!r} must look like package.module:attribute")
    return getattr(importlib.import_module(module_name), attr)


def registered_blueprints() -> dict[str, str]:
    return {ep.name: ep.value for ep in entry_points(group="ascent.jobs")}


def create_job_app(url: str, extra_blueprints: Iterable[str] = ()) -> procrastinate.App:
    """A job app with every registered blueprint, plus ``extra_blueprints`` (``name=mod:attr``
    or ``mod:attr``, whose namespace is then the module's last part)."""
    app = procrastinate.App(
        connector=procrastinate.PsycopgConnector(conninfo=url, min_size=1, max_size=4)
    )
    specs = dict(registered_blueprints())
    for extra in extra_blueprints:
        name, sep, target = extra.partition("=")
        if not sep:
            target, name = extra, extra.partition(":")[0].rsplit(".", 1)[-1]
        specs[name] = target
    for namespace, target in sorted(specs.items()):
        blueprint = load_object(target)
        if callable(blueprint) and not isinstance(blueprint, procrastinate.Blueprint):
            # A factory: procrastinate renames a blueprint's tasks when an app loads it, so
            # each app (worker, web process, test) needs a blueprint of its own.
            blueprint = blueprint()
        if not isinstance(blueprint, procrastinate.Blueprint):
            raise TypeError(f"{target} is not a procrastinate.Blueprint")
        app.add_tasks_from(blueprint, namespace=namespace)
    return app
