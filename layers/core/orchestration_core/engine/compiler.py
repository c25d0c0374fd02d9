"""Compile a workflow version into an Amazon States Language definition (pure: no AWS calls).

``dependsOn`` semantics: a task starts once all of its dependencies completed, and a task
whose dependencies are complete never waits for unrelated tasks.

- The graph is decomposed recursively. Disconnected parts run side by side (a Parallel state);
  a connected part is cut into a series wherever *every* later task depends, directly or
  transitively, on *every* earlier one (those cuts are exactly the prefixes shared by all
  topological orders). Series-parallel graphs therefore compile to nested Parallel states,
  and the nesting adds no waiting.
- A connected part with no such cut is not series-parallel (e.g. the "N" shape a->c, b->c,
  b->d). Its tasks run as branches of one Parallel state; a task with dependencies inside the
  part first waits on a task token (``lambda:invoke.waitForTaskToken``) that the task runner
  releases the moment its last dependency completes. Still exact: the only added wait is the
  token round trip (milliseconds; bench/engine.py measures it).

The state carries ``{executionId, tenantId, execution}``: ``execution`` is what the start step
returns (workflow id, scheduled slot, and the parameters when they are small), and each task's
runner state carries the task's own definition (``spec``: type, dependencies, config) while the
definition stays within a budget. So the task runner reads neither the execution record nor the
task list per task: it reads only its dependencies' results, from DynamoDB (results never pass
through the state, so Step Functions' 256 KiB payload limit applies to no workflow's data except
what a native Lambda task returns). What the state does not carry the runner reads from the
record, in the same request as the dependencies' results.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

from orchestration_core.shared.limits import (
    DEFAULT_STATE_MACHINE_PREFIX,
    MAX_STATE_MACHINE_PREFIX,
    STATE_MACHINE_HASH_LENGTH,
)
from orchestration_core.tasktypes.builtins import BUILTIN_TYPES, NATIVE_TYPES
from orchestration_core.tasktypes.netguard import REFUSED_ERROR
from orchestration_core.workflows.dag import topological_order
from orchestration_core.workflows.models import TaskDef

# The task runner's own transient failures (its store throttled or unavailable).
TRANSIENT_ERROR = "Orchestration.Transient"
# Transient Lambda service errors and the runner's, retried on every state that calls a
# function (ASL's defaults: 3 attempts, 1 s, doubling).
LAMBDA_SERVICE_RETRY: dict[str, Any] = {
    "ErrorEquals": [
        "Lambda.ServiceException",
        "Lambda.AWSLambdaException",
        "Lambda.SdkClientException",
        "Lambda.TooManyRequestsException",
        TRANSIENT_ERROR,
    ]
}
# Step Functions refuses definitions over 1 MiB (checked before creating a machine).
MAX_DEFINITION_BYTES = 1024 * 1024
# Task definitions (``spec``) go into the runner states while the definition stays under this
# size and the specs add at most SPEC_BUDGET_BYTES; a task whose spec is left out has the
# runner read the execution record (one more item in the read it makes anyway, or one more
# request for a task whose dependencies are not in the state either).
SPEC_BUDGET_BYTES = 256 * 1024
SPEC_DEFINITION_CEILING = 3 * MAX_DEFINITION_BYTES // 4
LAMBDA_INVOKE = "arn:aws:states:::lambda:invoke"


# -- the plan: a tree of Task / Series / Parallel / Gated ---------------------------------------
@dataclass(frozen=True)
class Leaf:
    task: int


@dataclass(frozen=True)
class Series:
    parts: tuple[Plan, ...]


@dataclass(frozen=True)
class Together:
    parts: tuple[Plan, ...]


@dataclass(frozen=True)
class Gated:
    """A non-series-parallel part: every task a branch, gated on its dependencies in the part."""

    tasks: tuple[int, ...]


Plan = Leaf | Series | Together | Gated


def plan(tasks: Sequence[TaskDef]) -> Plan:
    """Decompose the (validated, acyclic) graph. O(n^2 / 64) with bitsets for the series cuts."""
    index = {t.name: i for i, t in enumerate(tasks)}
    preds = [{index[d] for d in t.depends_on} for t in tasks]
    succs: list[set[int]] = [set() for _ in tasks]
    for i, ps in enumerate(preds):
        for p in ps:
            succs[p].add(i)
    order = [index[name] for name in topological_order(tasks)]
    desc = [0] * len(tasks)
    for i in reversed(order):
        mask = 0
        for s in succs[i]:
            mask |= desc[s] | (1 << s)
        desc[i] = mask
    position = {node: k for k, node in enumerate(order)}

    def components(nodes: list[int]) -> list[list[int]]:
        members = set(nodes)
        parent = {n: n for n in nodes}

        def find(x: int) -> int:
            while parent[x] != x:
                parent[x] = parent[parent[x]]
                x = parent[x]
            return x

        for n in nodes:
            for p in preds[n]:
                if p in members:
                    parent[find(n)] = find(p)
        groups: dict[int, list[int]] = {}
        for n in nodes:  # nodes are in topological order, so each group stays ordered
            groups.setdefault(find(n), []).append(n)
        return sorted(groups.values(), key=min)

    def decompose(nodes: list[int]) -> Plan:
        if len(nodes) == 1:
            return Leaf(nodes[0])
        parts = components(nodes)
        if len(parts) > 1:
            return Together(tuple(decompose(p) for p in parts))
        full = 0
        for n in nodes:
            full |= 1 << n
        prefix, common, cuts = 0, full, []
        for k, n in enumerate(nodes[:-1]):
            prefix |= 1 << n
            common &= desc[n]
            rest = full & ~prefix
            if rest & ~common == 0:
                cuts.append(k + 1)
        if not cuts:
            return Gated(tuple(nodes))
        bounds = [0, *cuts, len(nodes)]
        return Series(tuple(decompose(nodes[a:b]) for a, b in itertools.pairwise(bounds)))

    return decompose(sorted(range(len(tasks)), key=position.__getitem__))


def is_series_parallel(tasks: Sequence[TaskDef]) -> bool:
    def gated(p: Plan) -> bool:
        if isinstance(p, Gated):
            return True
        return isinstance(p, Series | Together) and any(gated(q) for q in p.parts)

    return not gated(plan(tasks))


# -- ASL emission ---------------------------------------------------------------------------------
@dataclass
class _Emitter:
    tasks: Sequence[TaskDef]
    runner: str
    functions: Mapping[str, str]  # custom type -> function name or ARN
    counter: int = 0
    gates: dict[int, set[int]] = field(default_factory=dict)  # task -> dependencies it waits on
    notify: dict[int, list[str]] = field(default_factory=dict)  # task -> gated tasks to release
    # The runner payloads that get the task's spec when it fits (task index, Parameters).
    specs: list[tuple[int, dict[str, Any]]] = field(default_factory=list)

    def runner_call(self, action: str, task: TaskDef | None, **extra: Any) -> dict[str, Any]:
        """A Task state calling the task runner. The function-ARN form keeps it small (the
        payload is the Parameters). ``run`` states discard what the runner returns
        (``ResultPath: null``); ``prepare`` and ``complete`` return the state
        (``{executionId, tenantId, execution}``, plus what the native step needs)."""
        payload: dict[str, Any] = {
            "action": action,
            "executionId.$": "$.executionId",
            "tenantId.$": "$.tenantId",
        }
        if action != "await":
            payload["execution.$"] = "$.execution"
        if task is not None:
            payload["task"] = task.name
        payload.update(extra)
        return {
            "Type": "Task",
            "Resource": self.runner,
            "Parameters": payload,
            "Retry": [LAMBDA_SERVICE_RETRY],
        }

    def user_options(self, state: dict[str, Any], task: TaskDef, i: int) -> None:
        retry = task.config.get("retry") or {}
        attempts = int(retry.get("maxAttempts", 0))
        if attempts:
            if task.type == "http":  # a refused address stays refused: never retried
                state["Retry"].append({"ErrorEquals": [REFUSED_ERROR], "MaxAttempts": 0})
            state["Retry"].append(
                {
                    "ErrorEquals": ["States.ALL"],
                    "MaxAttempts": attempts,
                    "IntervalSeconds": int(retry.get("intervalSeconds", 1)),
                    "BackoffRate": float(retry.get("backoffRate", 2.0)),
                }
            )
        if "timeoutSeconds" in task.config:
            state["TimeoutSeconds"] = int(task.config["timeoutSeconds"])

    def leaf(self, i: int) -> tuple[dict[str, Any], str, str]:
        """States of one task: (states, first, last).

        Any error of the task's states (after its retries) is caught into ``failed#i``, which
        ends the branch with a ``TaskFailed`` error whose cause carries the task, its attempts
        and the original error. A custom error name, unlike a ``States.*`` one, can be caught
        out of nested Parallel states (moto cannot catch the latter), and the wrapper's
        failure step records it: no extra Lambda call per failed task.
        """
        task = self.tasks[i]
        attempts = int((task.config.get("retry") or {}).get("maxAttempts", 0)) + 1
        catch = [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": f"failed#{i}"}]
        states: dict[str, Any] = {
            f"failed#{i}": {
                "Type": "Pass",
                "Parameters": {"task": task.name, "attempts": attempts, "error.$": "$.error"},
                "Next": f"fail#{i}",
            },
            f"fail#{i}": {"Type": "Fail", "Error": "TaskFailed", "CausePath": "States.JsonToString($)"},
        }
        notify = {"notify": self.notify[i]} if self.notify.get(i) else {}
        chain: list[str] = []
        if i in self.gates:
            gate = self.runner_call("await", task, **{"token.$": "$$.Task.Token", "gate": len(self.gates[i])})
            gate["Resource"] = LAMBDA_INVOKE + ".waitForTaskToken"
            gate["Parameters"] = {"FunctionName": self.runner, "Payload": gate["Parameters"]}
            gate["ResultPath"] = None
            states[f"await#{i}"] = gate
            chain.append(f"await#{i}")
        if task.type not in NATIVE_TYPES:
            custom = {"function": self.functions[task.type]} if task.type not in BUILTIN_TYPES else {}
            run = self.runner_call("run", task, **{"attempt.$": "$$.State.RetryCount"}, **custom, **notify)
            run["ResultPath"] = None
            self.user_options(run, task, i)
            run["Catch"] = catch
            self.specs.append((i, run["Parameters"]))
            states[task.name] = run
            chain.append(task.name)
        else:
            prepare = self.runner_call("prepare", task)
            prepare["Catch"] = catch
            self.specs.append((i, prepare["Parameters"]))
            states[task.name] = prepare
            chain.append(task.name)
            # A later launch (redrive, resume) goes round the native step of a task that an
            # earlier launch completed: the runner's prepare answers skip.
            states[f"ran#{i}"] = {
                "Type": "Choice",
                "Choices": [{"Variable": "$.skip", "BooleanEquals": True, "Next": f"done#{i}"}],
            }
            chain.append(f"ran#{i}")
            if task.type == "wait":
                states[f"wait#{i}"] = {"Type": "Wait", "Seconds": int(task.config["seconds"])}
                chain.append(f"wait#{i}")
                done = self.runner_call(
                    "complete",
                    task,
                    spec={"type": task.type},
                    result={"waitedSeconds": task.config.get("seconds")},
                    **notify,
                )
            else:
                function = task.config["functionName"]
                invoke: dict[str, Any] = {
                    "Type": "Task",
                    "Resource": LAMBDA_INVOKE,
                    "Parameters": {"FunctionName": function, "Payload.$": "$.input"},
                    "ResultSelector": {"result.$": "$.Payload", "retries.$": "$$.State.RetryCount"},
                    "ResultPath": "$.output",
                    "Retry": [LAMBDA_SERVICE_RETRY],
                    "Catch": catch,
                }
                self.user_options(invoke, task, i)
                states[f"invoke#{i}"] = invoke
                chain.append(f"invoke#{i}")
                done = self.runner_call(
                    "complete",
                    task,
                    spec={"type": task.type},
                    **{"result.$": "$.output.result", "retries.$": "$.output.retries"},
                    **notify,
                )
            done["Catch"] = catch
            states[f"done#{i}"] = done
            chain.append(f"done#{i}")
        for a, b in itertools.pairwise(chain):
            if states[a]["Type"] == "Choice":
                states[a]["Default"] = b
            else:
                states[a]["Next"] = b
        return states, chain[0], chain[-1]

    def emit(self, node: Plan) -> tuple[dict[str, Any], str, str]:
        if isinstance(node, Leaf):
            return self.leaf(node.task)
        if isinstance(node, Series):
            states: dict[str, Any] = {}
            first = last = ""
            for part in node.parts:
                sub, start, end = self.emit(part)
                states.update(sub)
                if last:
                    states[last]["Next"] = start
                first = first or start
                last = end
            return states, first, last
        members = node.parts if isinstance(node, Together) else tuple(Leaf(t) for t in node.tasks)
        self.counter += 1
        name = f"parallel#{self.counter}"
        return (
            {name: {"Type": "Parallel", "Branches": [self.branch(p) for p in members], "ResultPath": None}},
            name,
            name,
        )

    def branch(self, node: Plan) -> dict[str, Any]:
        states, start, last = self.emit(node)
        states[last]["End"] = True
        return {"StartAt": start, "States": states}


def _collect_gates(node: Plan, tasks: Sequence[TaskDef], emitter: _Emitter) -> None:
    if isinstance(node, Gated):
        members = set(node.tasks)
        index = {t.name: i for i, t in enumerate(tasks)}
        for i in sorted(node.tasks):
            inside = {index[d] for d in tasks[i].depends_on} & members
            if inside:
                emitter.gates[i] = inside
                for d in sorted(inside):
                    emitter.notify.setdefault(d, []).append(tasks[i].name)
    elif isinstance(node, Series | Together):
        for part in node.parts:
            _collect_gates(part, tasks, emitter)


@cache
def _skeleton() -> str:
    return (resources.files("orchestration_core.engine") / "statemachines" / "execution.asl.json").read_text()


def _fill(value: Any, graph: dict[str, Any], runner: str) -> Any:
    if isinstance(value, dict):
        return {k: _fill(v, graph, runner) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, graph, runner) for v in value]
    if value == "${Graph}":
        return graph
    if value == "${LambdaServiceRetry}":
        return LAMBDA_SERVICE_RETRY
    if value == "${TaskRunnerArn}":
        return runner
    return value


def compile_definition(
    tasks: Sequence[TaskDef], runner_arn: str, functions: Mapping[str, str]
) -> dict[str, Any]:
    """The full state machine definition for a workflow version.

    ``functions`` maps each custom task type to its Lambda function (name or ARN); callers
    check registration first (unregistered types are a 422, not a compile error).
    """
    emitter = _Emitter(tasks, runner_arn, functions)
    tree = plan(tasks)
    _collect_gates(tree, tasks, emitter)
    graph = emitter.branch(tree)
    definition: dict[str, Any] = _fill(json.loads(_skeleton()), graph, runner_arn)
    _add_specs(definition, tasks, emitter.specs)
    return definition


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def _plain(value: Any) -> bool:
    """No key ends with ``.$`` at any depth: Step Functions would read such a key as a path."""
    if isinstance(value, dict):
        return all(not k.endswith(".$") and _plain(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_plain(v) for v in value)
    return True


def _add_specs(
    definition: dict[str, Any], tasks: Sequence[TaskDef], specs: list[tuple[int, dict[str, Any]]]
) -> None:
    """Give each task's runner state its ``spec`` (``type``, ``dependsOn``, ``config``), in task
    order while the budget lasts: first every type, then dependencies, then configs. What a
    spec leaves out (or a missing spec) the runner reads from the execution record."""
    budget = min(SPEC_BUDGET_BYTES, SPEC_DEFINITION_CEILING - len(_compact(definition)))
    chosen: dict[int, dict[str, Any]] = {i: {} for i, _ in specs}
    fields: list[tuple[str, Callable[[TaskDef], Any]]] = [
        ("type", lambda t: t.type),
        ("dependsOn", lambda t: list(t.depends_on)),
        ("config", lambda t: t.config),
    ]
    for key, value_of in fields:
        for i, _ in specs:
            value = value_of(tasks[i])
            cost = len(_compact(value)) + len(f',"{key}":') + (0 if chosen[i] else len('"spec":{}'))
            if cost <= budget and _plain(value):
                chosen[i][key] = value
                budget -= cost
    for i, parameters in specs:
        if chosen[i]:
            parameters["spec"] = chosen[i]


def state_machine_name(definition: Mapping[str, Any], prefix: str = DEFAULT_STATE_MACHINE_PREFIX) -> str:
    """Content-addressed: an unchanged definition reuses its state machine, a change makes a new one.

    ``prefix`` + exactly 40 hex characters, so IAM can match one stack's machines with
    ``<prefix>`` and 40 ``?`` (a longer prefix of another stack never matches).
    """
    if not 0 < len(prefix) <= MAX_STATE_MACHINE_PREFIX:
        raise ValueError(f"a state machine name prefix has 1 to {MAX_STATE_MACHINE_PREFIX} characters")
    canonical = json.dumps(definition, sort_keys=True, separators=(",", ":"))
    return prefix + hashlib.sha256(canonical.encode()).hexdigest()[:STATE_MACHINE_HASH_LENGTH]
