"""Load the template's Lambda functions in-process and invoke them as Lambda would."""

from __future__ import annotations

import importlib.util
import os
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from orchestration_core.shared import changes

from orchestration_local import aws, isolation
from orchestration_local.template import FunctionSpec, Template

ACCOUNT = "123456789012"
REGION = "us-east-1"
# What Lambda itself sets in every function's environment (of what this project reads).
LAMBDA_VARIABLES = ("AWS_REGION", "AWS_DEFAULT_REGION")


@dataclass
class LambdaContext:
    """The attributes of Lambda's context object that handlers and Powertools read."""

    function_name: str
    memory_limit_in_mb: int
    timeout_seconds: int
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = "local"
    _deadline: float = 0.0

    def __post_init__(self) -> None:
        self._deadline = time.monotonic() + self.timeout_seconds
        self.log_group_name = f"/aws/lambda/{self.function_name}"

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


Handler = Callable[[dict[str, Any], Any], Any]


class Functions:
    """The template's functions, imported from their CodeUri like Lambda's runtime does."""

    def __init__(self, template: Template, names: dict[str, str]) -> None:
        self.template = template
        self.specs = template.functions
        self._handlers: dict[str, Handler] = {}
        self.modules: dict[str, ModuleType] = {}
        self.api_functions = {route.function for route in template.routes}
        self._api_lock = threading.Lock()
        self._apply_environment(names)

    def _apply_environment(self, names: dict[str, str]) -> None:
        """Each function's own environment (the template's Globals and its Variables), read by
        its invocations; and all of them merged into ``os.environ`` for the process's own code
        (isolation.py says what reads which)."""
        merged = {key: os.environ.get(key, REGION) for key in LAMBDA_VARIABLES}
        own: dict[str, dict[str, str]] = {}
        for logical_id, spec in self.specs.items():
            own[logical_id] = {
                key: str(self.template.resolve(raw, names)) for key, raw in spec.environment.items()
            }
            for key, value in own[logical_id].items():
                if merged.get(key, value) != value:
                    raise ValueError(f"{key} differs between functions; one process cannot hold both values")
                merged[key] = value
        os.environ.update(merged)
        lambda_variables = {key: merged[key] for key in LAMBDA_VARIABLES}
        self.environments = {
            logical_id: isolation.FunctionEnvironment({**lambda_variables, **variables}, merged)
            for logical_id, variables in own.items()
        }

    def handler(self, logical_id: str) -> Handler:
        if logical_id not in self._handlers:
            spec = self.specs[logical_id]
            module = _import_module(spec)
            self.modules[logical_id] = module
            self._handlers[logical_id] = getattr(module, spec.handler.rsplit(".", 1)[1])
            isolation.isolate_loggers()  # the loggers its import made
        return self._handlers[logical_id]

    def load_all(self) -> None:
        for logical_id in self.specs:
            self.handler(logical_id)

    def invoke(self, logical_id: str, event: dict[str, Any]) -> Any:
        """One invocation, with the function's own settings and log keys (isolation.py)."""
        spec = self.specs[logical_id]
        context = LambdaContext(logical_id, spec.memory, spec.timeout)
        handler = self.handler(logical_id)
        if logical_id in self.api_functions:
            # Powertools' REST resolver keeps the current request on a class attribute: right for
            # Lambda (one request per environment at a time), shared between threads here. So
            # API handlers run one at a time, as each would in its own Lambda environment.
            with self._api_lock:
                return isolation.run_isolated(
                    self.environments[logical_id], lambda: self._api_call(logical_id, handler, event, context)
                )
        return isolation.run_isolated(self.environments[logical_id], lambda: handler(event, context))

    def _api_call(self, logical_id: str, handler: Handler, event: dict[str, Any], context: Any) -> Any:
        changes.feed.set(_HeldRequests(self, logical_id))
        return handler(event, context)

    def let_others_run(self, logical_id: str, wait: Callable[[], bool]) -> bool:
        """``wait()`` for a held API request (a long poll) without the API lock, so other requests
        run meanwhile (as they would in other Lambda environments). Taking the lock back, it puts
        back what Powertools keeps per request on shared objects (the event and context on
        ``BaseRouter``, each resolver's ``context`` dict), which the requests in between replaced."""
        from aws_lambda_powertools.event_handler.api_gateway import BaseRouter

        module = self.modules[logical_id]
        resolvers = [value for value in vars(module).values() if isinstance(value, BaseRouter)]
        event, context = BaseRouter.current_event, BaseRouter.lambda_context
        kept = [(resolver, dict(resolver.context)) for resolver in resolvers]
        self._api_lock.release()
        try:
            return wait()
        finally:
            self._api_lock.acquire()
            BaseRouter.current_event, BaseRouter.lambda_context = event, context
            for resolver, values in kept:
                resolver.context.clear()
                resolver.context.update(values)


class _HeldRequests:
    """The change feed of one API invocation here: DynamoDB is in this process, so a held
    request is told of each write to its partition (aws.partition_writes) instead of polling,
    and it waits without the API lock."""

    def __init__(self, functions: Functions, logical_id: str) -> None:
        self.functions, self.logical_id = functions, logical_id

    def subscribe(self, partition: str) -> _PartitionWrites:
        return _PartitionWrites(self, partition)


class _PartitionWrites:
    def __init__(self, feed: _HeldRequests, partition: str) -> None:
        self.feed = feed
        self._writes = aws.partition_writes(partition)
        self._event: threading.Event | None = None

    def __enter__(self) -> _PartitionWrites:
        self._event = self._writes.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._writes.__exit__(*exc)

    def wait(self, seconds: float) -> changes.Change:
        event = self._event
        assert event is not None, "wait() outside the with block"
        written = self.feed.functions.let_others_run(self.feed.logical_id, lambda: event.wait(seconds))
        if not written:
            return changes.Change.QUIET
        event.clear()  # before the read that follows: a later write sets it again
        return changes.Change.WRITTEN


def _import_module(spec: FunctionSpec) -> ModuleType:
    module_name = spec.handler.rsplit(".", 1)[0]
    path = spec.code_uri / (module_name.replace(".", "/") + ".py")
    module_spec = importlib.util.spec_from_file_location(f"lambda_{spec.logical_id}_{module_name}", path)
    if module_spec is None or module_spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module
