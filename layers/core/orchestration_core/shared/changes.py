"""How a held request (a long poll) learns that an item collection may have changed.

Deployed, nothing tells a Lambda function of a write, so it looks again every
``POLL_INTERVAL``: each wait answers ``MAYBE``. A runtime that sees every write (the embedded
one, where DynamoDB is in the same process) installs a feed of its own in ``feed`` for the
invocation: its waits answer ``WRITTEN`` the moment the partition is written and ``QUIET``
when the time is up without a write, so an idle watcher costs nothing between writes.
"""

from __future__ import annotations

import time
from contextlib import AbstractContextManager
from contextvars import ContextVar
from enum import Enum
from types import TracebackType
from typing import Protocol

POLL_INTERVAL = 0.1


class Change(Enum):
    WRITTEN = "written"  # the partition was written since the last wait
    MAYBE = "maybe"  # it may have been: look
    QUIET = "quiet"  # it was not: nothing to read


class Subscription(AbstractContextManager["Subscription"], Protocol):
    def wait(self, seconds: float) -> Change:
        """Block up to ``seconds`` (more than 0) for a write to the partition."""
        ...


class Feed(Protocol):
    def subscribe(self, partition: str) -> Subscription:
        """Writes to ``partition`` from now on (before the first read, so none is missed)."""
        ...


class _Polling:
    def __enter__(self) -> _Polling:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        return None

    def wait(self, seconds: float) -> Change:
        time.sleep(min(POLL_INTERVAL, seconds))
        return Change.MAYBE


class PollingFeed:
    """Look again every ``POLL_INTERVAL``: what a deployed function can do."""

    def subscribe(self, partition: str) -> Subscription:
        return _Polling()


_POLLING = PollingFeed()
feed: ContextVar[Feed | None] = ContextVar("orchestration_change_feed", default=None)


def current() -> Feed:
    """The feed of this invocation: its runtime's, or polling."""
    return feed.get() or _POLLING
