"""The harness every benchmark shares: the embedded runtime started as a subprocess
(``DevServer``) or in this process (``start_runtime``), the HTTP client, timing, tables, the
environment and results files, and the rule that a benchmark's LAST line is its headline ratio
against a baseline measured in the same run (``print_headline``)."""

from bench.harness.api import Client, Connection, diamond_workflow
from bench.harness.inproc import (
    CUSTOM_FUNCTIONS,
    HAND_FUNCTION,
    RUNNER,
    TERMINAL,
    Api,
    RunnerTimer,
    engine_execution_arn,
    history_events,
    start_runtime,
    ts,
)
from bench.harness.report import (
    REPO,
    RESULTS_DIR,
    environment,
    load_average,
    package_version,
    percentile,
    print_headline,
    table,
    write_results,
)
from bench.harness.server import DevServer
from bench.harness.timing import ClientThreads, time_call, time_loop

__all__ = [
    "CUSTOM_FUNCTIONS",
    "HAND_FUNCTION",
    "REPO",
    "RESULTS_DIR",
    "RUNNER",
    "TERMINAL",
    "Api",
    "Client",
    "ClientThreads",
    "Connection",
    "DevServer",
    "RunnerTimer",
    "diamond_workflow",
    "engine_execution_arn",
    "environment",
    "history_events",
    "load_average",
    "package_version",
    "percentile",
    "print_headline",
    "start_runtime",
    "table",
    "time_call",
    "time_loop",
    "ts",
    "write_results",
]
