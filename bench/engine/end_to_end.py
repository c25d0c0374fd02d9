"""(3) end to end: a noop chain and fork through the API against hand-written ASL of the same
shape in the same moto."""

from __future__ import annotations

import json
import statistics
import time
import uuid
from collections.abc import Callable
from typing import Any

from bench.engine.graphs import DEPLOYED_RUNNER_ARN, Profile, random_dag
from bench.harness import (
    HAND_FUNCTION,
    Api,
    RunnerTimer,
    engine_execution_arn,
    history_events,
    load_average,
    ts,
)


def chain_tasks(n: int) -> list[dict[str, Any]]:
    return [{"name": f"t{i}", "type": "noop", "dependsOn": [f"t{i - 1}"] if i else []} for i in range(n)]


def fork_tasks(n: int) -> list[dict[str, Any]]:
    return [{"name": f"t{i}", "type": "noop"} for i in range(n)]


def hand_written(shape: str, n: int) -> dict[str, Any]:
    def task(name: str, nxt: str | None) -> dict[str, Any]:
        state: dict[str, Any] = {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": HAND_FUNCTION, "Payload.$": "$"},
            "ResultSelector": {"ok.$": "$.Payload"},
            "ResultPath": None,
        }
        if nxt:
            state["Next"] = nxt
        else:
            state["End"] = True
        return state

    if shape == "chain":
        names = [f"t{i}" for i in range(n)]
        return {
            "StartAt": names[0],
            "States": {a: task(a, b) for a, b in zip(names, [*names[1:], None], strict=True)},
        }
    return {
        "StartAt": "fork",
        "States": {
            "fork": {
                "Type": "Parallel",
                "Branches": [
                    {"StartAt": f"t{i}", "States": {f"t{i}": task(f"t{i}", None)}} for i in range(n)
                ],
                "ResultPath": None,
                "End": True,
            }
        },
    }


def moto_parse_seconds(definition: str, runs: int = 3) -> float | None:
    """CPU seconds moto's ASL parser (ANTLR) takes for ``definition``. moto parses the whole
    definition at every execution start; the embedded runtime memoises the parse by definition
    (orchestration_local/aws.py), so this is paid once per machine, not per execution. The
    unmemoised parser is timed here (AWS's own cost is not visible)."""
    try:
        from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
    except ImportError:  # moto moved it: the figure is diagnostic only
        return None
    parse = getattr(AmazonStateLanguageParser.parse, "__wrapped__", AmazonStateLanguageParser.parse)
    samples = []
    for _ in range(runs):
        start = time.process_time()
        parse(definition)
        samples.append(time.process_time() - start)
    return statistics.median(samples)


def end_to_end_benchmark(profile: Profile, api: Api, timer: RunnerTimer) -> dict[str, Any]:
    import boto3

    sfn = boto3.client("stepfunctions", region_name="us-east-1")
    n = 10
    out: dict[str, Any] = {
        "tasks": n,
        "runs": profile.e2e_runs,
        "poll_seconds": profile.poll,
        "load_before": load_average(),
        "shapes": {},
    }

    def engine_run(workflow_id: str, cold: bool) -> dict[str, Any]:
        timer.reset()
        cpu, start = time.process_time(), time.perf_counter()
        eid = api.execute(workflow_id)
        accepted = time.perf_counter() - start
        ex = api.wait(eid, poll=profile.poll)
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu
        if ex["status"] != "completed":
            raise RuntimeError(f"engine: {ex['status']} {ex.get('error')}")
        first = min(ts(t["startedAt"]) for t in ex["tasks"])
        last = max(ts(t["completedAt"]) for t in ex["tasks"])
        return {
            "cold": cold,
            "wall_s": wall,
            "cpu_s": cpu,
            "execute_call_s": accepted,
            "record_s": ts(ex["completedAt"]) - ts(ex["startedAt"]),
            "before_first_task_s": first - ts(ex["startedAt"]),
            "tasks_span_s": last - first,
            "after_last_task_s": ts(ex["completedAt"]) - last,
            "runner_invocations": timer.calls,
            "runner_seconds": timer.seconds,
            "runner_dynamodb_requests": dict(timer.dynamodb),
            "runner_dynamodb_seconds": timer.dynamodb_seconds,
            "execution_id": eid,
        }

    def hand_run(machine: str, cold: bool) -> dict[str, Any]:
        cpu, start = time.process_time(), time.perf_counter()
        arn = sfn.start_execution(stateMachineArn=machine, name=uuid.uuid4().hex, input="{}")["executionArn"]
        while True:
            described = sfn.describe_execution(executionArn=arn)
            if described["status"] != "RUNNING":
                break
            time.sleep(profile.poll)
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu
        if described["status"] != "SUCCEEDED":
            raise RuntimeError(f"hand-written: {described['status']}")
        return {
            "cold": cold,
            "wall_s": wall,
            "cpu_s": cpu,
            "record_s": (described["stopDate"] - described["startDate"]).total_seconds(),
            "execution_arn": arn,
        }

    uninstall = timer.install_dynamodb_counter()
    try:
        for shape, make in (("chain", chain_tasks), ("fork", fork_tasks)):
            out["shapes"][shape] = _end_to_end_shape(
                shape, make(n), profile.e2e_runs, api, sfn, engine_run, hand_run
            )
    finally:
        uninstall()
    if profile.parse_probe:
        from orchestration_core.engine.compiler import compile_definition

        graph = random_dag(profile.parse_probe, 1000 + profile.parse_probe)
        definition = json.dumps(compile_definition(graph.taskdefs("noop"), DEPLOYED_RUNNER_ARN, {}))
        out["moto_parse_probe"] = {
            "tasks": graph.size,
            "definition_bytes": len(definition.encode()),
            "moto_parse_s": moto_parse_seconds(definition, runs=1),
        }
    out["load_after"] = load_average()
    return out


def _end_to_end_shape(
    shape: str,
    tasks: list[dict[str, Any]],
    runs: int,
    api: Api,
    sfn: Any,
    engine_run: Callable[[str, bool], dict[str, Any]],
    hand_run: Callable[[str, bool], dict[str, Any]],
) -> dict[str, Any]:
    n = len(tasks)
    wf = api.create(f"bench-e2e-{shape}", tasks)
    start = time.perf_counter()
    machine = sfn.create_state_machine(
        name=f"bench-hand-{shape}-{uuid.uuid4().hex[:8]}",
        definition=json.dumps(hand_written(shape, n)),
        roleArn="arn:aws:iam::123456789012:role/bench",
    )["stateMachineArn"]
    create_s = time.perf_counter() - start
    # The engine's first run also creates its state machine. Then alternate the two, so that a
    # noisy neighbour on the machine slows both alike.
    engine_runs, hand_runs = [engine_run(wf, True)], [hand_run(machine, True)]
    for _ in range(runs):
        engine_runs.append(engine_run(wf, False))
        hand_runs.append(hand_run(machine, False))
    arn = engine_execution_arn(sfn, engine_runs[-1]["execution_id"])
    engine_events = history_events(sfn, arn) if arn else None
    hand_events = history_events(sfn, hand_runs[-1]["execution_arn"])
    engine_definition = (
        sfn.describe_state_machine(
            stateMachineArn=sfn.describe_execution(executionArn=arn)["stateMachineArn"]
        )["definition"]
        if arn
        else ""
    )
    hand_definition = sfn.describe_state_machine(stateMachineArn=machine)["definition"]

    def med(runs: list[dict[str, Any]], key: str) -> float:
        return float(statistics.median(r[key] for r in runs if not r["cold"]))

    e_wall, h_wall = med(engine_runs, "wall_s"), med(hand_runs, "wall_s")
    e_rec, h_rec = med(engine_runs, "record_s"), med(hand_runs, "record_s")
    e_cpu, h_cpu = med(engine_runs, "cpu_s"), med(hand_runs, "cpu_s")
    result = {
        "engine": {
            "median_wall_s": e_wall,
            "median_record_s": e_rec,
            "median_cpu_s": e_cpu,
            "median_execute_call_s": med(engine_runs, "execute_call_s"),
            "median_before_first_task_s": med(engine_runs, "before_first_task_s"),
            "median_tasks_span_s": med(engine_runs, "tasks_span_s"),
            "median_after_last_task_s": med(engine_runs, "after_last_task_s"),
            "median_runner_seconds": med(engine_runs, "runner_seconds"),
            "median_runner_dynamodb_seconds": med(engine_runs, "runner_dynamodb_seconds"),
            "runner_dynamodb_requests": engine_runs[-1]["runner_dynamodb_requests"],
            "runner_invocations": engine_runs[-1]["runner_invocations"],
            "cold_wall_s": engine_runs[0]["wall_s"],
            "history_events": engine_events,
            "definition_bytes": len(engine_definition.encode()),
            "moto_parse_s": moto_parse_seconds(engine_definition) if engine_definition else None,
            "runs": engine_runs,
        },
        "hand_written": {
            "median_wall_s": h_wall,
            "median_record_s": h_rec,
            "median_cpu_s": h_cpu,
            "create_state_machine_s": create_s,
            "cold_wall_s": hand_runs[0]["wall_s"],
            "history_events": hand_events,
            "definition_bytes": len(hand_definition.encode()),
            "moto_parse_s": moto_parse_seconds(hand_definition),
            "runs": hand_runs,
        },
        "ratio_wall": e_wall / h_wall,
        "ratio_record": e_rec / h_rec,
        "ratio_cpu": e_cpu / h_cpu,
        "overhead_ms_per_task_wall": 1000 * (e_wall - h_wall) / n,
        "overhead_ms_per_task_record": 1000 * (e_rec - h_rec) / n,
        "overhead_cpu_ms_per_task": 1000 * (e_cpu - h_cpu) / n,
    }
    print(
        f"  {shape:5}: engine {e_wall * 1000:6.1f} ms, hand-written {h_wall * 1000:6.1f} ms,"
        f" ratio {result['ratio_wall']:.2f}",
        flush=True,
    )
    return result
