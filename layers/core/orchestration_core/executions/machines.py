"""Garbage collection of the stack's state machines, a little on every dispatcher tick.

Every distinct compiled definition is a state machine named ``<prefix><40 hex>`` (compiler's
``state_machine_name``), created on first use and never changed. Workflows that are edited
often leave machines nobody runs any more, and Step Functions limits how many an account may
have. After its sweep, each tick lists one page of machines (continuing where the previous
tick of this process stopped) and deletes a few that are all of:

- **this stack's**: the name is the prefix followed by exactly 40 lowercase hex characters (a
  stack whose name extends this one's, ``orch-b-…`` beside ``orch-…``, is never matched; IAM
  would refuse it anyway);
- **idle for the grace period** (``MACHINE_GC_GRACE_DAYS``, 7 by default): created before it, and
  its newest execution started and stopped before it;
- **running nothing**: no RUNNING execution (Step Functions terminates the executions of a
  deleted machine at their next transition);
- **not current**: the workflow of its newest execution still has the version that execution
  ran (the usual next start of a machine is the next run of that version);
- **not referenced by a pending or running record** (a start on its way, or one a crash left
  to a replay), read from the active index.

Why deleting such a machine is safe even if it is needed again: every path that starts a
machine compiles the definition and re-creates a missing machine. ``start_execution`` and
``relaunch`` (redrive, resume) start through ``executions._start``, which on
``StateMachineDoesNotExist`` drops the process's cached ARN and creates the machine again
(``tests/integration/test_faults.py``: a deleted machine is re-created). While Step Functions
is still deleting it, a create or start is refused and the request answers 503 "retry shortly"
(a schedule's fire is retried by a later tick; a redrive ends ``LaunchFailed`` and can be
redriven). The one race left is a start in the milliseconds between the checks above and the
delete, on a machine idle for the whole grace period that is not its workflow's current one
(a redrive of an old execution): that execution is terminated, reconciled ``failed`` and can be
redriven. Nothing is lost silently.

The work per tick is bounded: one ListStateMachines page, at most ``GC_MAX_EXAMINED`` idle
candidates looked at (two ListExecutions, a DescribeExecution and two table reads each) and at
most ``GC_MAX_DELETES`` deletes. A young machine costs nothing but its line in the page.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from orchestration_core.engine.stepfunctions import ExecutionMissing, MachineMissing
from orchestration_core.executions.store import ACTIVE_SHARDS
from orchestration_core.executions.usecases import Services
from orchestration_core.shared.errors import ProblemError, TransientFailure

GC_PAGE = 50  # machines listed per tick
GC_MAX_EXAMINED = 10  # idle candidates checked per tick
GC_MAX_DELETES = 5  # deletes per tick
# The pending/running records read to protect their machines; with more, nothing is deleted
# this tick (the protection would be incomplete).
GC_MAX_ACTIVE = 5000


@dataclass
class CollectReport:
    listed: int = 0  # machines in the page (every stack's)
    examined: int = 0  # this stack's machines idle for the grace period, checked
    deleted: list[str] = field(default_factory=list)  # names
    kept: dict[str, int] = field(default_factory=dict)  # why, how many
    error: str | None = None  # what stopped this tick's collection early

    def keep(self, why: str) -> None:
        self.kept[why] = self.kept.get(why, 0) + 1

    def as_dict(self) -> dict[str, Any]:
        return {
            "listed": self.listed,
            "examined": self.examined,
            "deleted": len(self.deleted),
            "kept": dict(self.kept),
            **({"error": self.error} if self.error else {}),
        }


class MachineCollector:
    """Keeps the position in ListStateMachines between ticks of one process (a cold start
    begins at the first page again): the page being worked through, and which of its machines
    were looked at already, so a page with more candidates than a tick examines is finished by
    the next ticks. Thread-safe, one collection at a time."""

    def __init__(self) -> None:
        self._token: str | None = None  # the page being worked through (None: the first)
        self._done: set[str] = set()  # its machines looked at already
        self.passes = 0  # times the whole list was gone through
        self._lock = threading.Lock()

    def collect(self, svc: Services, now: datetime, grace: timedelta) -> CollectReport:
        with self._lock:
            report = CollectReport()
            try:
                machines, next_token = svc.engine.list_machines(self._token, GC_PAGE)
                report.listed = len(machines)
                if _collect_page(svc, machines, now - grace, report, self._done):
                    self._token, self._done = next_token, set()
                    self.passes += next_token is None
            except (ProblemError, TransientFailure, ClientError) as err:
                # Throttled or refused: the next tick goes on from the same page.
                report.error = str(err)
            return report


def _collect_page(
    svc: Services, machines: list[dict[str, Any]], cutoff: datetime, report: CollectReport, done: set[str]
) -> bool:
    """Look at the page's idle machines of this stack not looked at yet; False if a limit
    stopped it before the end of the page."""
    ours = re.compile(re.escape(svc.engine.prefix) + "[0-9a-f]{40}")
    active: set[str] | None = None
    for machine in machines:
        name, arn = str(machine["name"]), str(machine["stateMachineArn"])
        if not ours.fullmatch(name) or machine["creationDate"] > cutoff or name in done:
            continue
        if len(report.deleted) >= GC_MAX_DELETES or report.examined >= GC_MAX_EXAMINED:
            return False
        done.add(name)
        report.examined += 1
        try:
            why = _in_use(svc, arn, cutoff)
        except MachineMissing:
            continue  # deleted meanwhile
        if why is None:
            if active is None:
                active = _active_machines(svc)
            if active is None:
                report.keep("too-many-active")
                return False
            if arn in active:
                why = "pending"
        if why is not None:
            report.keep(why)
            continue
        svc.engine.delete_machine(arn)
        report.deleted.append(name)
    return True


def _in_use(svc: Services, arn: str, cutoff: datetime) -> str | None:
    """Why the machine must stay (``running``, ``recent``, ``current``), or None."""
    newest = svc.engine.executions_of(arn)
    if not newest:
        return None
    last = newest[0]
    if last["status"] == "RUNNING":
        return "running"
    if max(last["startDate"], last.get("stopDate") or last["startDate"]) > cutoff:
        return "recent"
    if svc.engine.executions_of(arn, running_only=True):
        return "running"  # an older execution still runs (e.g. a long wait)
    if _current(svc, str(last["executionArn"])):
        return "current"
    return None


def _current(svc: Services, execution_arn: str) -> bool:
    """Whether the execution's workflow still has the version that execution ran."""
    try:
        payload = json.loads(svc.engine.describe(execution_arn).get("input") or "{}")
    except (ExecutionMissing, ValueError):
        return False
    tenant_id, execution_id = payload.get("tenantId"), payload.get("executionId")
    if not isinstance(tenant_id, str) or not isinstance(execution_id, str):
        return False
    ex = svc.executions.get(tenant_id, execution_id, with_runs=False)
    if ex is None:
        return False
    wf = svc.workflows.get(tenant_id, ex.workflow_id)
    return wf is not None and wf.version == ex.workflow_version


def _active_machines(svc: Services) -> set[str] | None:
    """The machines of every pending or running record, or None if there are too many."""
    machines: set[str] = set()
    seen = 0
    for shard in range(ACTIVE_SHARDS):
        for ex in svc.executions.active(shard):
            seen += 1
            if seen > GC_MAX_ACTIVE:
                return None
            machines.add(ex.state_machine_arn)
    return machines
