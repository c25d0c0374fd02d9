"""Execution items and their task items (one item collection per execution).

- Execution: ``PK = T#<tenant>#EX#<id>``, ``SK = EX``; member of four list partitions
  (tenant, tenant+status, workflow, workflow+status), so every filter of GET /executions is
  one Query and every ``total`` one counter read.
- Task run: same PK, ``SK = TASK#<name>``; written by the task runner as the machine runs.
- Idempotency record: ``PK = T#<tenant>#IDEM#<sha256(key)>``, expires after 24 h (TTL).
- Active index (GSI5, sparse, no counter): a pending or running execution carries
  ``GSI5PK = ACTIVE#<shard>`` and ``GSI5SK = <checkAt>#<id>``; an ended one carries neither.
  The periodic sweep reads the ones due for a check (oldest first) across all tenants, and
  the embedded runtime finds what to resume after a restart, without a scan.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from contextlib import suppress
from typing import Any

from orchestration_core.executions.models import Execution, ExecutionStatus, TaskRun
from orchestration_core.shared.pagination import Cursor, Page
from orchestration_core.shared.table import ConditionFailed, Table, index_attributes, serialize
from orchestration_core.workflows.models import TaskDef, TaskStatus

# The conditions of task run writes (see the intent methods of ExecutionStore).
_NOT_ENDED = "attribute_not_exists(#status) OR #status IN (:pending, :running)"
_NOT_ENDED_VALUES = {":pending": TaskStatus.PENDING.value, ":running": TaskStatus.RUNNING.value}
_RUNNING = "#status = :running"
_RUNNING_VALUES = {":running": TaskStatus.RUNNING.value}
_NOT_STARTED = "attribute_not_exists(#status) OR #status = :pending"
_PENDING_VALUES = {":pending": TaskStatus.PENDING.value}

IDEMPOTENCY_TTL_SECONDS = 24 * 3600
ACTIVE_INDEX = 5
ACTIVE_SHARDS = 4


def active_partition(shard: int) -> str:
    return f"ACTIVE#{shard}"


def active_shard(execution_id: str) -> int:
    return int(hashlib.sha256(execution_id.encode()).hexdigest()[:8], 16) % ACTIVE_SHARDS


def active_attributes(execution_id: str, check_at: str) -> dict[str, str]:
    return {
        f"GSI{ACTIVE_INDEX}PK": active_partition(active_shard(execution_id)),
        f"GSI{ACTIVE_INDEX}SK": f"{check_at}#{execution_id}",
    }


def pk(tenant_id: str, execution_id: str) -> str:
    return f"T#{tenant_id}#EX#{execution_id}"


def memberships(tenant_id: str, workflow_id: str, status: ExecutionStatus | str) -> dict[int, str]:
    return {
        1: f"T#{tenant_id}#EX",
        2: f"T#{tenant_id}#EX#S#{status}",
        3: f"T#{tenant_id}#WF#{workflow_id}#EX",
        4: f"T#{tenant_id}#WF#{workflow_id}#EX#S#{status}",
    }


def list_partition(tenant_id: str, workflow_id: str | None, status: str | None) -> tuple[int, str]:
    index = {(False, False): 1, (False, True): 2, (True, False): 3, (True, True): 4}[
        (bool(workflow_id), bool(status))
    ]
    return index, memberships(tenant_id, workflow_id or "", status or "")[index]


def to_item(ex: Execution) -> dict[str, Any]:
    return {
        "PK": pk(ex.tenant_id, ex.id),
        "SK": "EX",
        "entity": "execution",
        "id": ex.id,
        "tenantId": ex.tenant_id,
        "workflowId": ex.workflow_id,
        "workflowVersion": ex.workflow_version,
        "status": ex.status.value,
        "tasks": json.dumps(
            [
                {"name": t.name, "type": t.type, "config": t.config, "dependsOn": list(t.depends_on)}
                for t in ex.tasks
            ],
            separators=(",", ":"),
        ),
        "parameters": json.dumps(ex.parameters, separators=(",", ":")),
        "startedAt": ex.started_at,
        "completedAt": ex.completed_at,
        "error": json.dumps(ex.error) if ex.error else None,
        "trigger": json.dumps(ex.trigger) if ex.trigger else None,
        "stateMachineArn": ex.state_machine_arn,
        "sfnName": ex.sfn_name or None,
        "redriveCount": ex.redrive_count or None,
        "redrivenAt": ex.redriven_at,
        **index_attributes(memberships(ex.tenant_id, ex.workflow_id, ex.status), ex.id),
        **({} if ex.status.terminal else active_attributes(ex.id, ex.started_at)),
    }


def from_item(item: dict[str, Any], runs: dict[str, TaskRun] | None = None) -> Execution:
    return Execution(
        id=item["id"],
        tenant_id=item["tenantId"],
        workflow_id=item["workflowId"],
        workflow_version=int(item["workflowVersion"]),
        status=ExecutionStatus(item["status"]),
        tasks=tuple(
            TaskDef(name=t["name"], type=t["type"], config=t["config"], depends_on=tuple(t["dependsOn"]))
            for t in json.loads(item["tasks"])
        ),
        parameters=json.loads(item["parameters"]),
        started_at=item["startedAt"],
        state_machine_arn=item["stateMachineArn"],
        sfn_name=item.get("sfnName", ""),
        completed_at=item.get("completedAt"),
        error=json.loads(item["error"]) if item.get("error") else None,
        trigger=json.loads(item["trigger"]) if item.get("trigger") else None,
        runs=runs or {},
        redrive_count=int(item.get("redriveCount") or 0),
        redriven_at=item.get("redrivenAt"),
    )


def run_from_item(item: dict[str, Any]) -> TaskRun:
    return TaskRun(
        name=item["name"],
        status=TaskStatus(item["status"]),
        started_at=item.get("startedAt"),
        completed_at=item.get("completedAt"),
        attempts=int(item.get("attempts", 0)),
        result=json.loads(item["result"]) if "result" in item else None,
        error=json.loads(item["error"]) if item.get("error") else None,
        wait_token=item.get("waitToken"),
        prior_attempts=int(item.get("priorAttempts", 0)),
        gate=int(item.get("gate", 0)),
        gate_done=frozenset(item.get("gateDone") or ()),
    )


class ExecutionStore:
    def __init__(self, table: Table) -> None:
        self.table = table

    # -- executions ----------------------------------------------------------------------------
    def create(self, ex: Execution, idempotency_key: str | None = None) -> None:
        """Create the record (and claim the idempotency key) atomically. ConditionFailed index 0
        means the key was taken; index 1 means an execution with this id exists."""
        ops = []
        if idempotency_key is not None:
            now = int(time.time())
            ops.append(
                self.table.put_op(
                    {
                        "PK": idempotency_pk(ex.tenant_id, idempotency_key),
                        "SK": "IDEM",
                        "entity": "idempotency",
                        "executionId": ex.id,
                        "workflowId": ex.workflow_id,
                        "expiresAt": now + IDEMPOTENCY_TTL_SECONDS,
                    },
                    "attribute_not_exists(PK) OR expiresAt < :now",
                    {":now": now},
                )
            )
        ops.append(self.table.put_op(to_item(ex), "attribute_not_exists(PK)"))
        ops += self.table.counter_ops({}, memberships(ex.tenant_id, ex.workflow_id, ex.status))
        self.table.transact(ops)

    def idempotent_match(self, tenant_id: str, key: str) -> dict[str, Any] | None:
        item = self.table.get(idempotency_pk(tenant_id, key), "IDEM")
        if item is None or int(item["expiresAt"]) < time.time():
            return None
        return item

    def delete(self, ex: Execution, idempotency_key: str | None = None) -> None:
        ops = [
            self.table.delete_op(
                pk(ex.tenant_id, ex.id), "EX", "#s = :s", {":s": ex.status.value}, {"#s": "status"}
            )
        ]
        if idempotency_key is not None:
            ops.append(self.table.delete_op(idempotency_pk(ex.tenant_id, idempotency_key), "IDEM"))
        ops += self.table.counter_ops(memberships(ex.tenant_id, ex.workflow_id, ex.status), {})
        self.table.transact(ops)

    def partition(self, tenant_id: str, execution_id: str) -> str:
        """The partition key of the execution's items (its record and task runs)."""
        return pk(tenant_id, execution_id)

    def get(self, tenant_id: str, execution_id: str, with_runs: bool = True) -> Execution | None:
        if not with_runs:
            item = self.table.get(pk(tenant_id, execution_id), "EX")
            return from_item(item) if item else None
        items = self._collection(pk(tenant_id, execution_id))
        head = next((i for i in items if i["SK"] == "EX"), None)
        if head is None:
            return None
        runs = {i["name"]: run_from_item(i) for i in items if i["SK"].startswith("TASK#")}
        return from_item(head, runs)

    def transition(
        self, ex: Execution, status: ExecutionStatus, completed_at: str | None, error: dict[str, Any] | None
    ) -> bool:
        """Move to ``status`` if the record is still at ``ex.status`` (False if it moved on)."""
        names = {"#s": "status"}
        values: dict[str, Any] = {":old": ex.status.value}
        sets: list[str] = []
        counters = _move_status(ex, status, sets, values, self.table)
        for n, (attr, val) in enumerate(
            [("completedAt", completed_at), ("error", json.dumps(error) if error else None)]
        ):
            if val is not None:
                sets.append(f"#v{n} = :v{n}")
                names[f"#v{n}"] = attr
                values[f":v{n}"] = val
        expression = "SET " + ", ".join(sets)
        if status.terminal:
            expression += f" REMOVE GSI{ACTIVE_INDEX}PK, GSI{ACTIVE_INDEX}SK"
        try:
            self.table.transact(
                [
                    self.table.update_op(
                        pk(ex.tenant_id, ex.id), "EX", expression, values, names, "#s = :old"
                    ),
                    *counters,
                ]
            )
            return True
        except ConditionFailed:
            return False

    def rename_run(self, ex: Execution, sfn_name: str) -> bool:
        """Record another Step Functions name for a still-pending execution."""
        try:
            self.table.transact(
                [
                    self.table.update_op(
                        pk(ex.tenant_id, ex.id),
                        "EX",
                        "SET sfnName = :n",
                        {":n": sfn_name, ":pending": ExecutionStatus.PENDING.value},
                        {"#s": "status"},
                        "#s = :pending",
                    )
                ]
            )
            return True
        except ConditionFailed:
            return False

    def relaunch(self, ex: Execution, machine_arn: str, sfn_name: str, now: str, redrive: bool) -> bool:
        """Claim the next launch of ``ex`` (False if the record moved on meanwhile).

        The record moves to launch ``sfn_name`` on ``machine_arn`` only if it is still at the
        status and launch it was read at, so of two racing claims exactly one wins. A redrive
        also turns an ended execution ``running`` again (``redriveCount`` + 1, ``redrivenAt``,
        no ``completedAt``/``error``); a resume keeps the status of a pending or running one.
        """
        names = {"#s": "status", "#n": "sfnName"}
        values: dict[str, Any] = {
            ":old": ex.status.value,
            ":arn": machine_arn,
            ":name": sfn_name,
            ":check": f"{now}#{ex.id}",
            ":shard": active_partition(active_shard(ex.id)),
        }
        sets = [
            "stateMachineArn = :arn",
            "#n = :name",
            f"GSI{ACTIVE_INDEX}PK = :shard",
            f"GSI{ACTIVE_INDEX}SK = :check",
        ]
        condition = "#s = :old AND " + ("#n = :oldname" if ex.sfn_name else "attribute_not_exists(#n)")
        if ex.sfn_name:
            values[":oldname"] = ex.sfn_name
        ops: list[dict[str, Any]] = []
        remove = ""
        if redrive:
            ops = _move_status(ex, ExecutionStatus.RUNNING, sets, values, self.table)
            values.update({":count": ex.redrive_count + 1, ":at": now})
            sets += ["redriveCount = :count", "redrivenAt = :at"]
            remove = " REMOVE completedAt, #e"
            names["#e"] = "error"
        update = self.table.update_op(
            pk(ex.tenant_id, ex.id), "EX", "SET " + ", ".join(sets) + remove, values, names, condition
        )
        try:
            self.table.transact([update, *ops])
            return True
        except ConditionFailed:
            return False

    def reset_unfinished(self, ex: Execution) -> None:
        """Every task of ``ex`` that did not complete is ``pending`` again for the next launch:
        its error, times and parked token cleared, its attempts so far kept as ``priorAttempts``.
        A completed task keeps its result and is not touched."""
        for task in ex.tasks:
            run = ex.runs.get(task.name)
            if run is None or run.status == TaskStatus.COMPLETED:
                continue
            # A task that completed meanwhile (a late result of the last launch) stays completed.
            with suppress(ConditionFailed):
                self.table.transact(
                    [
                        self.table.update_op(
                            pk(ex.tenant_id, ex.id),
                            f"TASK#{task.name}",
                            "SET #status = :pending, priorAttempts = :prior "
                            "REMOVE startedAt, completedAt, #error, waitToken",
                            {
                                ":pending": TaskStatus.PENDING.value,
                                ":prior": run.attempts,
                                ":completed": TaskStatus.COMPLETED.value,
                            },
                            {"#status": "status", "#error": "error"},
                            "attribute_exists(PK) AND #status <> :completed",
                        )
                    ]
                )

    def due_for_check(self, shard: int, now: str, limit: int) -> list[Execution]:
        """Pending or running executions whose next check is due, oldest first (one Query)."""
        items = self.table.query_first_page(
            IndexName=f"GSI{ACTIVE_INDEX}",
            KeyConditionExpression="#pk = :pk AND #sk <= :now",
            ExpressionAttributeNames={"#pk": f"GSI{ACTIVE_INDEX}PK", "#sk": f"GSI{ACTIVE_INDEX}SK"},
            ExpressionAttributeValues=serialize({":pk": active_partition(shard), ":now": now + "~"}),
            Limit=limit,
        )
        return [from_item(i) for i in items]

    def active(self, shard: int) -> Iterator[Execution]:
        """Every pending or running execution of one shard (paged Queries, no scan)."""
        for items in self.table.query_pages(
            IndexName=f"GSI{ACTIVE_INDEX}",
            KeyConditionExpression="#pk = :pk",
            ExpressionAttributeNames={"#pk": f"GSI{ACTIVE_INDEX}PK"},
            ExpressionAttributeValues=serialize({":pk": active_partition(shard)}),
        ):
            yield from (from_item(i) for i in items)

    def check_later(self, ex: Execution, check_at: str) -> None:
        """Move a still-active execution's next check to ``check_at`` (a no-op once it ended)."""
        with suppress(ConditionFailed):
            self.table.transact(
                [
                    self.table.update_op(
                        pk(ex.tenant_id, ex.id),
                        "EX",
                        f"SET GSI{ACTIVE_INDEX}SK = :check",
                        {":check": f"{check_at}#{ex.id}"},
                        {"#pk": f"GSI{ACTIVE_INDEX}PK"},
                        "attribute_exists(#pk)",
                    )
                ]
            )

    def page(
        self, tenant_id: str, workflow_id: str | None, status: str | None, limit: int, position: Cursor | int
    ) -> Page[Execution]:
        index, partition = list_partition(tenant_id, workflow_id, status)
        return self.table.list_page(
            index, partition, limit, position, lambda eid: {"PK": pk(tenant_id, eid), "SK": "EX"}, from_item
        )

    def latest_for_workflow(self, tenant_id: str, workflow_id: str) -> Execution | None:
        index, partition = list_partition(tenant_id, workflow_id, None)
        items, _ = self.table.page(index, partition, 1, 0, lambda _e: {})
        return self.get(tenant_id, items[0]["id"]) if items else None

    # -- task runs -------------------------------------------------------------------------------
    def runs(self, tenant_id: str, execution_id: str, names: list[str]) -> dict[str, TaskRun]:
        return self.read(tenant_id, execution_id, names, with_record=False)[1]

    def read(
        self, tenant_id: str, execution_id: str, names: list[str], with_record: bool
    ) -> tuple[Execution | None, dict[str, TaskRun]]:
        """Task runs by name and, ``with_record``, the execution record (without its runs):
        one BatchGetItem (consistent) per 100 items."""
        keys = [(pk(tenant_id, execution_id), f"TASK#{n}") for n in names]
        if with_record:
            keys.append((pk(tenant_id, execution_id), "EX"))
        found: dict[str, TaskRun] = {}
        record: Execution | None = None
        for item in self.table.get_many(keys):
            if item["SK"] == "EX":
                record = from_item(item)
            else:
                run = run_from_item(item)
                found[run.name] = run
        return record, found

    # -- task runs, by intent: the conditions of each write stay in this module --------------------
    def mark_run_running(
        self, tenant_id: str, execution_id: str, name: str, attempts: int, now: str
    ) -> tuple[bool, TaskRun | None]:
        """Mark the task running (``attempts`` of this launch) unless it already ended: (True, the
        run as marked) or (False, the ended run)."""
        return self._write_run(
            tenant_id,
            execution_id,
            name,
            {"status": TaskStatus.RUNNING.value},
            _NOT_ENDED,
            _NOT_ENDED_VALUES,
            if_not_exists={"startedAt": now},
            attempts=attempts,
        )

    def fail_run_unless_ended(
        self, tenant_id: str, execution_id: str, name: str, error: str, attempts: int, now: str
    ) -> None:
        """Record the task failed with ``error`` (JSON) unless it already ended."""
        self._write_run(
            tenant_id,
            execution_id,
            name,
            {"status": TaskStatus.FAILED.value, "completedAt": now, "error": error},
            _NOT_ENDED,
            _NOT_ENDED_VALUES,
            if_not_exists={"startedAt": now},
            attempts=attempts,
            returning="NONE",
        )

    def record_run_error_if_running(self, tenant_id: str, execution_id: str, name: str, error: str) -> None:
        """Note the error (JSON) of a failed attempt on a task that is still running."""
        self._write_run(
            tenant_id, execution_id, name, {"error": error}, _RUNNING, _RUNNING_VALUES, returning="NONE"
        )

    def complete_run_if_running(
        self, tenant_id: str, execution_id: str, name: str, result: str, attempts: int, now: str
    ) -> tuple[bool, TaskRun | None]:
        """Record the task completed with ``result`` (JSON) if it is still running: (True, None)
        or (False, the run as it is)."""
        return self._write_run(
            tenant_id,
            execution_id,
            name,
            {"status": TaskStatus.COMPLETED.value, "completedAt": now, "result": result},
            _RUNNING,
            _RUNNING_VALUES,
            remove=["error"],
            attempts=attempts,
            returning="NONE",
        )

    def park_run_if_pending(
        self, tenant_id: str, execution_id: str, name: str, token: str, gate: int | None
    ) -> tuple[bool, TaskRun | None]:
        """Park the task's wait token (and its gate, the number of dependencies) while it has not
        started: (True, the run as parked) or (False, the run that already ran)."""
        sets: dict[str, Any] = {"status": TaskStatus.PENDING.value, "waitToken": token}
        if gate is not None:
            sets["gate"] = gate
        return self._write_run(tenant_id, execution_id, name, sets, _NOT_STARTED, _PENDING_VALUES)

    def mark_dependency_done(
        self, tenant_id: str, execution_id: str, name: str, dependency: str
    ) -> TaskRun | None:
        """Add ``dependency`` to the completed dependencies of the gated task ``name``; returns the
        gated task's run as written."""
        _, gated = self._write_run(
            tenant_id,
            execution_id,
            name,
            {},
            if_not_exists={"status": TaskStatus.PENDING.value},
            add={"gateDone": {dependency}},
        )
        return gated

    def _write_run(
        self,
        tenant_id: str,
        execution_id: str,
        name: str,
        sets: dict[str, Any],
        condition: str | None = None,
        condition_values: dict[str, Any] | None = None,
        if_not_exists: dict[str, Any] | None = None,
        remove: list[str] | None = None,
        attempts: int | None = None,
        add: dict[str, Any] | None = None,
        returning: str = "ALL_NEW",
    ) -> tuple[bool, TaskRun | None]:
        """Update a task run item in one UpdateItem that also answers what the item holds: (True, the
        item as written; None with ``returning="NONE"``) or, when ``condition`` does not hold,
        (False, the item as it is; None if there is none). ``add`` adds to sets or numbers.
        ``attempts`` is this launch's count: the item records it on top of the attempts of
        earlier launches (``priorAttempts``, kept by a redrive or a resume)."""
        names = {"#name": "name"}
        values: dict[str, Any] = {":name": name, **(condition_values or {})}
        parts = ["#name = :name"]
        if attempts is not None:
            names["#att"], names["#prior"] = "attempts", "priorAttempts"
            values[":att"], values[":zero"] = attempts, 0
            parts.append("#att = if_not_exists(#prior, :zero) + :att")
        for n, (attr, value) in enumerate(sets.items()):
            names[f"#a{n}"] = attr
            values[f":a{n}"] = value
            parts.append(f"#a{n} = :a{n}")
        for n, (attr, value) in enumerate((if_not_exists or {}).items()):
            names[f"#i{n}"] = attr
            values[f":i{n}"] = value
            parts.append(f"#i{n} = if_not_exists(#i{n}, :i{n})")
        expression = "SET " + ", ".join(parts)
        if remove:
            for n, attr in enumerate(remove):
                names[f"#r{n}"] = attr
            expression += " REMOVE " + ", ".join(f"#r{n}" for n in range(len(remove)))
        if add:
            for n, (attr, value) in enumerate(add.items()):
                names[f"#d{n}"] = attr
                values[f":d{n}"] = value
            expression += " ADD " + ", ".join(f"#d{n} :d{n}" for n in range(len(add)))
        if condition and "#status" in condition:
            names["#status"] = "status"
        request: dict[str, Any] = {
            "Key": serialize({"PK": pk(tenant_id, execution_id), "SK": f"TASK#{name}"}),
            "UpdateExpression": expression,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": serialize(values),
            "ReturnValues": returning,
        }
        if condition:
            request["ConditionExpression"] = condition
        held, item = self.table.update_returning(**request)
        return held, run_from_item(item) if item else None

    def _collection(self, partition_key: str) -> list[dict[str, Any]]:
        pages = self.table.query_pages(
            KeyConditionExpression="PK = :pk",
            ExpressionAttributeValues=serialize({":pk": partition_key}),
            ConsistentRead=True,
        )
        return [item for items in pages for item in items]


def _move_status(
    ex: Execution, status: ExecutionStatus, sets: list[str], values: dict[str, Any], table: Table
) -> list[dict[str, Any]]:
    """Add to an update of ``ex`` what moving it to ``status`` takes (the status, its two status
    list memberships); returns the counter updates that go in the same transaction."""
    new_members = memberships(ex.tenant_id, ex.workflow_id, status)
    sets.append("#s = :new")
    values[":new"] = status.value
    for idx in (2, 4):
        sets.append(f"GSI{idx}PK = :g{idx}")
        values[f":g{idx}"] = new_members[idx]
    return table.counter_ops(memberships(ex.tenant_id, ex.workflow_id, ex.status), new_members)


def idempotency_pk(tenant_id: str, key: str) -> str:
    return f"T#{tenant_id}#IDEM#{hashlib.sha256(key.encode()).hexdigest()}"
