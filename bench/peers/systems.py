"""The systems compared: this project's embedded runtime, Prefect 3, Dagster (in-process and,
opt-in, multiprocess executors), each behind one interface."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any

from bench.harness import (
    CUSTOM_FUNCTIONS,
    REPO,
    Api,
    engine_execution_arn,
    history_events,
    start_runtime,
)
from bench.peers.workloads import (
    DAGSTER,
    DAGSTER_MP,
    OURS,
    PREFECT,
    RECORDER,
    Workload,
    measure,
    submit_clock,
    task_body,
)


class System:
    name = ""
    setup = ""

    def prepare(self, workload: Workload) -> None:
        raise NotImplementedError

    def run(self, workload: Workload) -> dict[str, Any]:
        raise NotImplementedError

    def close(self) -> None:
        pass


class Ours(System):
    """The embedded runtime in this process, driven through the API gateway emulation."""

    name = OURS
    setup = (
        "embedded runtime in this process (moto: Step Functions interpreter, DynamoDB, Lambda), "
        "task body = a custom task type's Lambda function; client waits for the last task body, "
        "then polls GET /executions/{id} every 5 ms"
    )

    def __init__(self, workdir: Path) -> None:
        import boto3

        from orchestration_local import aws

        self.runtime, self.api, self.timer = start_runtime(workdir)
        aws.register_lambda(CUSTOM_FUNCTIONS["sleep"], self._task)  # the shared body, not engine's
        self.uninstall = self.timer.install_dynamodb_counter()
        self.sfn = boto3.client("stepfunctions", region_name="us-east-1")
        self.workflows: dict[str, str] = {}

    @staticmethod
    def _task(event: dict[str, Any]) -> dict[str, Any]:
        config = event["config"]
        task_body(str(config["task"]), float(config["seconds"]))
        return {}

    def prepare(self, workload: Workload) -> None:
        graph = workload.graph
        tasks = [
            {
                "name": graph.task_name(i),
                "type": "sleep",
                "config": {"task": graph.task_name(i), "seconds": workload.seconds},
                "dependsOn": [graph.task_name(d) for d in deps],
            }
            for i, deps in enumerate(graph.deps)
        ]
        self.workflows[workload.key] = self.api.create(f"bench-peers-{workload.key}", tasks)

    def run(self, workload: Workload) -> dict[str, Any]:
        api: Api = self.api
        RECORDER.reset(workload.graph.size)
        self.timer.reset()
        submitted = submit_clock()
        execution_id = api.execute(self.workflows[workload.key])

        def wait() -> float:
            RECORDER.all_done.wait(timeout=120)
            ex = api.wait(execution_id, poll=0.005)
            if ex["status"] != "completed":
                raise RuntimeError(f"{OURS}, {workload.key}: execution {ex['status']}: {ex.get('error')}")
            return time.perf_counter()

        figures = measure(OURS, workload, wait, submitted)
        # Where the time went, read after the run: the task runner Lambda (summed over parallel
        # calls), its DynamoDB requests, and the execution's Step Functions history events.
        figures["runner_calls"] = self.timer.calls
        figures["runner_s"] = self.timer.seconds
        figures["runner_dynamodb_requests"] = sum(self.timer.dynamodb.values())
        figures["runner_dynamodb_s"] = self.timer.dynamodb_seconds
        arn = engine_execution_arn(self.sfn, execution_id)
        figures["history_events"] = history_events(self.sfn, arn) if arn else None
        return figures

    def close(self) -> None:
        self.uninstall()
        self.runtime.close()


class Prefect(System):
    name = PREFECT
    setup = (
        "flow with every task .submit()ted, wait_for= its dependencies, ThreadPoolTaskRunner with "
        "one thread per task; ephemeral local API (server subprocess, SQLite); logging level WARNING"
    )

    def __init__(self, home: Path) -> None:
        # Before prefect is imported: its settings are read at import.
        os.environ.setdefault("PREFECT_HOME", str(home))
        os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
        os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
        os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
        from prefect import flow, task  # type: ignore[import-not-found,unused-ignore]
        from prefect.task_runners import ThreadPoolTaskRunner  # type: ignore[import-not-found,unused-ignore]

        # Any: prefect's overloads are not what this module checks.
        self.flow: Any = flow
        self.task: Any = task
        self.runner: Any = ThreadPoolTaskRunner
        self.flows: dict[str, Any] = {}
        self.api_url = os.environ.get("PREFECT_API_URL") or "ephemeral"

    def prepare(self, workload: Workload) -> None:
        graph = workload.graph
        seconds = workload.seconds
        body = self.task(name="body")(task_body)

        def run_graph() -> None:
            futures: list[Any] = []
            for i, deps in enumerate(graph.deps):
                name = graph.task_name(i)
                futures.append(
                    body.with_options(task_run_name=name).submit(
                        name, seconds, wait_for=[futures[d] for d in deps]
                    )
                )
            for future in futures:
                future.result()

        self.flows[workload.key] = self.flow(
            run_graph, name=f"peers-{workload.key}", task_runner=self.runner(max_workers=graph.size)
        )

    def run(self, workload: Workload) -> dict[str, Any]:
        RECORDER.reset(workload.graph.size)
        submitted = submit_clock()

        def call() -> float:
            self.flows[workload.key]()
            return time.perf_counter()

        return measure(PREFECT, workload, call, submitted)


class Dagster(System):
    name = DAGSTER
    setup = (
        "one op per task, Nothing inputs for dependencies, job.execute_in_process: in-process "
        "executor (ops one at a time), ephemeral instance, no server; console log level ERROR"
    )
    RUN_CONFIG: dict[str, Any] = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}

    def __init__(self) -> None:
        import dagster  # type: ignore[import-not-found,unused-ignore]

        self.dg: Any = dagster
        self.instance = dagster.DagsterInstance.ephemeral()
        self.jobs: dict[str, Any] = {}

    def _op(self, name: str, deps: list[str], seconds: float) -> Any:
        dg = self.dg

        def task_op() -> None:
            task_body(name, seconds)

        return dg.op(name=name, ins={d: dg.In(dg.Nothing) for d in deps})(task_op)

    def prepare(self, workload: Workload) -> None:
        graph = workload.graph
        names = [graph.task_name(i) for i in range(graph.size)]
        ops = [
            self._op(names[i], [names[d] for d in deps], workload.seconds)
            for i, deps in enumerate(graph.deps)
        ]

        def the_job() -> None:
            outs: list[Any] = []
            for i, deps in enumerate(graph.deps):
                outs.append(ops[i](**{names[d]: outs[d] for d in deps}))

        self.jobs[workload.key] = self.dg.job(name=f"peers_{workload.key}")(the_job)

    def run(self, workload: Workload) -> dict[str, Any]:
        RECORDER.reset(workload.graph.size)
        submitted = submit_clock()

        def call() -> float:
            result = self.jobs[workload.key].execute_in_process(
                run_config=self.RUN_CONFIG, instance=self.instance
            )
            if not result.success:
                raise RuntimeError(f"{DAGSTER}, {workload.key}: run failed")
            return time.perf_counter()

        return measure(DAGSTER, workload, call, submitted)


class DagsterMultiprocess(System):
    """Opt-in (--dagster-multiprocess): Dagster's parallel executor, which needs a persistent
    instance and a job every op's process can rebuild (bench/_peers_dagster.py)."""

    name = DAGSTER_MP
    setup = (
        "the same ops, dagster.execute_job with the multiprocess executor (a new process per op, "
        "default concurrency = CPU count), persistent instance in a temporary directory; ops "
        "record their times in files"
    )

    def __init__(self, workdir: Path) -> None:
        import dagster  # type: ignore[import-not-found,unused-ignore]

        self.dg: Any = dagster
        logging.getLogger("dagster").setLevel(logging.WARNING)  # one DEBUG line per op process
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        (workdir / "instance").mkdir()
        self.instance = dagster.DagsterInstance.local_temp(str(workdir / "instance"))
        self.jobs: dict[str, tuple[Any, Path]] = {}

    def prepare(self, workload: Workload) -> None:
        record_dir = self.workdir / f"spans-{workload.key}"
        record_dir.mkdir()
        args = (f"peers_mp_{workload.key}", [list(d) for d in workload.graph.deps], workload.seconds)
        job = self.dg.build_reconstructable_job(
            "bench._peers_dagster",
            "make_job",
            reconstructable_args=(*args, str(record_dir)),
            reconstructor_working_directory=str(REPO),  # where each op's process imports bench from
        )
        self.jobs[workload.key] = (job, record_dir)

    def run(self, workload: Workload) -> dict[str, Any]:
        from bench._peers_dagster import read_spans

        job, record_dir = self.jobs[workload.key]
        for path in record_dir.iterdir():
            path.unlink()
        RECORDER.reset(workload.graph.size)
        submitted = submit_clock()

        def call() -> float:
            with self.dg.execute_job(
                job, instance=self.instance, run_config=Dagster.RUN_CONFIG, raise_on_error=True
            ) as result:
                if not result.success:
                    raise RuntimeError(f"{DAGSTER_MP}, {workload.key}: run failed")
            ended = time.perf_counter()
            RECORDER.spans = read_spans(str(record_dir))
            return ended

        return measure(DAGSTER_MP, workload, call, submitted)

    def close(self) -> None:
        self.instance.dispose()
