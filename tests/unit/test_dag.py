"""Workflow graph validation: names, dependsOn, cycles, reserved config options."""

from __future__ import annotations

import pytest
from orchestration_core.shared.errors import ValidationFailed
from orchestration_core.workflows.dag import find_cycle, topological_order, validate_tasks
from orchestration_core.workflows.models import TaskDef


def tasks(*specs: tuple[str, list[str]] | tuple[str, list[str], dict[str, object]]) -> list[TaskDef]:
    out = []
    for spec in specs:
        name, deps = spec[0], spec[1]
        config = spec[2] if len(spec) > 2 else {}  # type: ignore[misc]
        out.append(TaskDef(name=name, type="noop", config=dict(config), depends_on=tuple(deps)))
    return out


def errors_of(defs: list[TaskDef]) -> list[tuple[str, str]]:
    with pytest.raises(ValidationFailed) as info:
        validate_tasks(defs)
    return [(e.field, e.message) for e in info.value.errors]


def test_valid_etl_chain_passes() -> None:
    validate_tasks(tasks(("extract", []), ("transform", ["extract"]), ("load", ["transform"])))


def test_duplicate_names_point_at_the_second_occurrence() -> None:
    assert errors_of(tasks(("a", []), ("b", []), ("a", []))) == [
        ("tasks[2].name", "duplicate task name 'a' (also tasks[0])")
    ]


def test_self_dependency_dangling_and_duplicate_entries_each_have_a_path() -> None:
    found = errors_of(tasks(("a", ["a"]), ("b", ["zz", "a", "a"])))
    assert [f for f, _ in found] == [
        "tasks[0].dependsOn[0]",
        "tasks[1].dependsOn[0]",
        "tasks[1].dependsOn[2]",
    ]
    assert "itself" in found[0][1]
    assert "unknown task 'zz'" in found[1][1]
    assert "twice" in found[2][1]


@pytest.mark.parametrize(
    ("graph", "cycle"),
    [
        ([("a", ["b"]), ("b", ["a"])], ["a", "b", "a"]),
        ([("a", ["c"]), ("b", ["a"]), ("c", ["b"])], ["a", "c", "b", "a"]),
        ([("x", []), ("a", ["x", "b"]), ("b", ["a"])], ["a", "b", "a"]),
    ],
)
def test_a_cycle_is_named(graph: list[tuple[str, list[str]]], cycle: list[str]) -> None:
    found = errors_of(tasks(*graph))
    assert len(found) == 1
    field, message = found[0]
    assert message == "dependency cycle: " + " -> ".join(cycle)
    assert field.endswith(".dependsOn")


def test_cycle_detection_handles_a_long_chain_without_recursion() -> None:
    n = 20_000
    chain = [
        TaskDef(name=f"t{i}", type="noop", depends_on=(f"t{i + 1}",) if i + 1 < n else ()) for i in range(n)
    ]
    assert find_cycle(chain) is None
    looped = [*chain[:-1], TaskDef(name=f"t{n - 1}", type="noop", depends_on=("t0",))]
    cycle = find_cycle(looped)
    assert cycle is not None and cycle[0] == cycle[-1] and len(cycle) == n + 1


def test_topological_order_puts_dependencies_first() -> None:
    defs = tasks(("load", ["transform"]), ("transform", ["extract"]), ("extract", []), ("audit", ["extract"]))
    order = topological_order(defs)
    for t in defs:
        for d in t.depends_on:
            assert order.index(d) < order.index(t.name)


@pytest.mark.parametrize(
    ("config", "field"),
    [
        ({"retry": {"maxAttempts": 11}}, "tasks[0].config.retry.maxAttempts"),
        ({"retry": {"maxAttempts": -1}}, "tasks[0].config.retry.maxAttempts"),
        ({"retry": {"maxAttempts": True}}, "tasks[0].config.retry.maxAttempts"),
        ({"retry": {"intervalSeconds": 0}}, "tasks[0].config.retry.intervalSeconds"),
        ({"retry": {"backoffRate": 0.5}}, "tasks[0].config.retry.backoffRate"),
        ({"retry": {"jitter": "FULL"}}, "tasks[0].config.retry.jitter"),
        ({"retry": 3}, "tasks[0].config.retry"),
        ({"timeoutSeconds": 0}, "tasks[0].config.timeoutSeconds"),
        ({"timeoutSeconds": 1.5}, "tasks[0].config.timeoutSeconds"),
    ],
)
def test_reserved_config_options_are_validated(config: dict[str, object], field: str) -> None:
    assert [f for f, _ in errors_of(tasks(("a", [], config)))] == [field]


def test_valid_reserved_options_pass() -> None:
    validate_tasks(
        tasks(
            (
                "a",
                [],
                {"retry": {"maxAttempts": 3, "intervalSeconds": 2, "backoffRate": 1.5}, "timeoutSeconds": 30},
            )
        )
    )
