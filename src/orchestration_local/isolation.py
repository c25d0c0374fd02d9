"""What one in-process invocation keeps to itself, as it would in its own Lambda environment.

Every function of the template runs in this one process, on many threads at once. Each
invocation runs in its own copy of the caller's ``contextvars`` context (``run_isolated``), in
which:

- ``orchestration_core.shared.config.get_settings()`` answers the settings of the function being
  invoked: Lambda's own variables (the region) plus the template's Globals and the function's
  Variables, nothing another function was given. ``os.environ`` itself keeps every function's
  variables merged (what the runtime's own code reads outside invocations: the resume at start,
  the server), and code that reads ``os.environ`` directly sees that merge.
- the keys of every Powertools Logger (Lambda's context that ``inject_lambda_context`` appends,
  the correlation id, ``append_keys`` and ``thread_safe_append_keys``) start as they were when
  the loggers were made, and what the invocation appends stays in that invocation. Powertools
  keeps them on one formatter per service, shared by every function here (one process), in the
  formatter's ``log_format`` dict: that attribute is replaced by ``InvocationKeys`` (the test
  tests/unit/test_function_isolation.py fails if Powertools stops using it).

Not isolated (one process; each is the same for every function of this template, or read by
one function only):

- what is read from ``os.environ`` itself: Powertools' own ``POWERTOOLS_*`` variables (Globals,
  and the runtime's defaults), and whether a handler is traced (``shared/tracing.py``, decided
  when its module is imported, outside any invocation). The core reads everything else through
  ``get_settings()``: the task function prefix (a Global) and the http tasks' allow-list (the
  task runner's alone) too;
- the core's per-process objects: ``services.table()``, ``engine()`` and the task Lambda client
  are built once, at start (the resume), from the merged environment; a module's globals are
  one per process, not one per function; Powertools' ``cold_start`` is true once per process;
- threads a handler starts itself do not inherit the context (Python's threads start with an
  empty one): there, the settings are the process's and the log keys those of no invocation.
"""

from __future__ import annotations

import contextvars
import logging
import os
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from functools import cache
from typing import Any, TypeVar

from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter, clear_context_keys
from orchestration_core.shared import config

T = TypeVar("T")

# Per invocation: id(InvocationKeys) -> that formatter's keys as this invocation changed them.
_invocation_keys: contextvars.ContextVar[dict[int, dict[str, Any]] | None] = contextvars.ContextVar(
    "orchestration_local_invocation_keys", default=None
)


class InvocationKeys(MutableMapping[str, Any]):
    """A Powertools formatter's keys: outside any invocation the ones it was made with, inside one
    a copy of those that the invocation alone changes."""

    def __init__(self, base: MutableMapping[str, Any]) -> None:
        self.base = dict(base)

    def _current(self) -> dict[str, Any]:
        layers = _invocation_keys.get()
        if layers is None:
            return self.base
        mine = layers.get(id(self))
        if mine is None:
            mine = layers[id(self)] = dict(self.base)
        return mine

    def __getitem__(self, key: str) -> Any:
        return self._current()[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self._current()[key] = value

    def __delitem__(self, key: str) -> None:
        del self._current()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._current()))

    def __len__(self) -> int:
        return len(self._current())


_formatters: list[LambdaPowertoolsFormatter] = []


def isolate_loggers() -> None:
    """Give every Powertools formatter of the process per-invocation keys (after imports)."""
    for logger in [logging.getLogger(), *list(logging.Logger.manager.loggerDict.values())]:
        for handler in getattr(logger, "handlers", []):
            formatter = handler.formatter
            if isinstance(formatter, LambdaPowertoolsFormatter) and formatter not in _formatters:
                _formatters.append(formatter)
    _rewrap()


def _rewrap() -> None:
    # Powertools' clear_state() assigns a new dict: wrap it again.
    for formatter in _formatters:
        if not isinstance(formatter.log_format, InvocationKeys):
            formatter.log_format = InvocationKeys(formatter.log_format)  # type: ignore[assignment]


class FunctionEnvironment:
    """One function's environment: the variables it was given. A variable changed in
    ``os.environ`` after start (by a test, or the runtime's own allow-list) is seen with its new
    value by the functions that were given it, and by no other."""

    def __init__(self, own: Mapping[str, str], started: Mapping[str, str]) -> None:
        self.own = dict(own)
        self._started = {key: started.get(key) for key in own}  # what os.environ held at start
        self._sources: dict[tuple[tuple[str, str | None], ...], Callable[[], config.Settings]] = {}

    def current(self) -> dict[str, str]:
        environment = dict(self.own)
        for key, value in self._changed():
            if value is None:
                environment.pop(key)
            else:
                environment[key] = value
        return environment

    def _changed(self) -> tuple[tuple[str, str | None], ...]:
        return tuple(
            (key, os.environ.get(key)) for key in self.own if os.environ.get(key) != self._started[key]
        )

    def settings_source(self) -> Callable[[], config.Settings]:
        """Its settings, made at their first read (a function that never reads them is never
        refused for them, as on Lambda)."""
        changed = self._changed()
        source = self._sources.get(changed)
        if source is None:
            environment = self.current()
            source = self._sources[changed] = cache(lambda: config.settings_from(environment))
        return source


def run_isolated(environment: FunctionEnvironment, call: Callable[[], T]) -> T:
    """``call()`` as one invocation of the function whose environment is ``environment``."""
    source = environment.settings_source()

    def invocation() -> T:
        config.settings_source.set(source)
        _invocation_keys.set({})
        clear_context_keys()  # Powertools' thread_safe_append_keys
        _rewrap()
        return call()

    return contextvars.copy_context().run(invocation)
