"""For the whole suite: the cold-start figure of this run, in pytest's terminal summary.

tests/build runs bench.cold_imports on the built code and writes its last line to
bench/results/cold_imports.last; prints from xdist workers never reach the terminal, so the
controller prints the file here, if this run wrote it.
"""

from __future__ import annotations

import time
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
