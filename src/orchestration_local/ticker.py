"""The embedded runtime's EventBridge: invoke the template's scheduled functions like the rule does.

Every function with a ``Type: Schedule`` event in template.yaml (the dispatcher, found by its
event rather than by name) is invoked through the runtime's Lambda emulation with an
EventBridge scheduled event, once per interval (the rule's ``rate(...)``, normally a minute),
at interval boundaries of the clock (so a minute tick lands on :00, as EventBridge's does).
The event's ``time`` is the boundary itself, not the moment the thread woke up.

``interval`` and ``clock`` are injectable so tests tick fast and in the future:
``Ticker(runtime, interval=0.2, clock=lambda: real_now() + timedelta(hours=1))``.
"""

from __future__ import annotations

import logging
import math
import re
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from orchestration_local.lambdas import ACCOUNT, REGION
from orchestration_local.runtime import Runtime

log = logging.getLogger("orchestration.ticker")

DEFAULT_INTERVAL = 60.0
_RATE = re.compile(r"^rate\(\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*\)$")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}


def rate_seconds(expression: str) -> float:
    """Seconds between ticks of an EventBridge ``rate(...)``; other expressions tick every minute."""
    match = _RATE.match(expression.strip())
    if match is None:
        log.warning("schedule %r is not a rate(...): ticking it every minute locally", expression)
        return DEFAULT_INTERVAL
    return int(match[1]) * _UNIT_SECONDS[match[2].removesuffix("s")]


def _utc_now() -> datetime:
    return datetime.now(UTC)


def scheduled_event(logical_id: str, when: datetime) -> dict[str, Any]:
    """What EventBridge sends a scheduled rule's Lambda target."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT,
        "time": when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": REGION,
        "resources": [f"arn:aws:events:{REGION}:{ACCOUNT}:rule/local-{logical_id}-Tick"],
        "detail": {},
    }


class Ticker:
    def __init__(
        self,
        runtime: Runtime,
        interval: float | None = None,
        clock: Callable[[], datetime] = _utc_now,
        out: Callable[[str], None] = lambda line: print(line, flush=True),
    ) -> None:
        self.runtime = runtime
        self.targets = list(runtime.template.schedules)
        self.interval = interval or min(
            (rate_seconds(expr) for _, expr in self.targets), default=DEFAULT_INTERVAL
        )
        self.clock = clock
        self.out = out
        self.ticks = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def tick(self, when: datetime | None = None) -> list[Any]:
        """Invoke every scheduled function once for the tick ``when`` (default: the clock)."""
        moment = when or self.clock()
        results = []
        for logical_id, _ in self.targets:
            try:
                result = self.runtime.functions.invoke(logical_id, scheduled_event(logical_id, moment))
            except Exception:  # a failed tick is logged; the next one runs (as Lambda retries would)
                log.exception("scheduled invocation of %s failed", logical_id)
                result = None
            results.append(result)
            self._announce(result)
        self.ticks += 1
        return results

    def _announce(self, result: Any) -> None:
        """One short line per fired schedule on the dev console (the dispatcher logs at debug)."""
        for fire in (result or {}).get("fired", []) if isinstance(result, dict) else []:
            self.out(
                f"schedule {fire['scheduleId']} fired {fire['executionId']} (slot {fire['scheduledAt']})"
            )

    def start(self) -> Ticker:
        if self.targets and self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="ticker", daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _loop(self) -> None:
        last = -math.inf
        while not self._stop.is_set():
            now = self.clock().timestamp()
            # The next boundary, and never the same one twice (a wait may end a hair early).
            boundary = max(math.floor(now / self.interval + 1) * self.interval, last + self.interval)
            if self._stop.wait(max(0.0, boundary - now)):
                return
            last = boundary
            self.tick(datetime.fromtimestamp(boundary, UTC))
