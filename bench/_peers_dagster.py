"""A Dagster job that its multiprocess executor can rebuild in each op's process
(``build_reconstructable_job`` points here). Each op records its start and end in a file of
``record_dir``: ``time.perf_counter`` is CLOCK_MONOTONIC on Linux, the same clock in every
process of the machine, so the times compare with the benchmark's own."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any


def record(record_dir: str, name: str, seconds: float) -> None:
    """The shared task body (bench.peers), writing its span to a file instead of memory."""
    start = time.perf_counter()
    if seconds > 0:
        time.sleep(seconds)
    end = time.perf_counter()
    with (Path(record_dir) / f"{name}.{time.time_ns()}").open("w") as out:
        out.write(f"{start!r} {end!r}\n")


def read_spans(record_dir: str) -> dict[str, list[tuple[float, float]]]:
    spans: dict[str, list[tuple[float, float]]] = {}
    for path in Path(record_dir).iterdir():
        start, end = (float(x) for x in path.read_text().split())
        spans.setdefault(path.name.split(".")[0], []).append((start, end))
    return spans


def make_job(name: str, deps: list[list[int]], seconds: float, record_dir: str) -> Any:
    import dagster as dg  # type: ignore[import-not-found,unused-ignore]

    names = [f"t{i:05d}" for i in range(len(deps))]  # bench.engine.graphs.Graph.task_name

    def make_op(i: int) -> Any:
        def task_op() -> None:
            record(record_dir, names[i], seconds)

        return dg.op(name=names[i], ins={names[d]: dg.In(dg.Nothing) for d in deps[i]})(task_op)

    ops = [make_op(i) for i in range(len(deps))]

    def the_job() -> None:
        outs: list[Any] = []
        for i, task_deps in enumerate(deps):
            outs.append(ops[i](**{names[d]: outs[d] for d in task_deps}))

    return dg.job(name=name, executor_def=dg.multiprocess_executor)(the_job)
