"""For the whole suite: the cold-start figure of this run, in pytest's terminal summary; and no
test leaves its process's Ctrl-C handling changed for the tests after it.

tests/build runs bench.cold_imports on the built code and writes its last line to
bench/results/cold_imports.last; prints from xdist workers never reach the terminal, so the
controller prints the file here, if this run wrote it.
"""

from __future__ import annotations

import signal
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

COLD_START_FIGURE = Path(__file__).resolve().parent.parent / "bench" / "results" / "cold_imports.last"
_STARTED = pytest.StashKey[float]()


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_STARTED] = time.time()  # only to tell this run's file from an older one


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    figure = COLD_START_FIGURE
    if figure.exists() and figure.stat().st_mtime >= config.stash.get(_STARTED, 0.0):
        # Measured beside the rest of the suite on the same cores: a smoke figure, not a result
        # (python -m bench.cold_imports on an idle machine gives those).
        terminalreporter.write_line(
            "cold-start smoke run, beside the running tests (not a measurement): "
            + figure.read_text().strip()
        )


_SIGINT_AT_START = signal.getsignal(signal.SIGINT)


@pytest.fixture(autouse=True)
def _sigint_handling_kept(request: pytest.FixtureRequest) -> Iterator[None]:
    """Tests that send Ctrl-C (to this process, or to a command that inherits how this process
    treats it: an ignored SIGINT stays ignored across exec) need Python's default handler. If a
    test or a fixture's teardown left another one behind, it is put back before the next test
    and a warning says where it was found."""
    _put_back_sigint(f"before {request.node.nodeid}")
    yield
    _put_back_sigint(f"after {request.node.nodeid}")


def _put_back_sigint(where: str) -> None:
    found = signal.getsignal(signal.SIGINT)
    if found is not _SIGINT_AT_START:
        signal.signal(signal.SIGINT, _SIGINT_AT_START)
        warnings.warn(f"SIGINT was handled by {found!r} {where}; put back", stacklevel=2)
