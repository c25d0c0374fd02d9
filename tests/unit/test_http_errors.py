"""Mapping validation errors to problem+json field paths."""

from __future__ import annotations

import pytest
from orchestration_core.shared.http import field_path, validation_problem


@pytest.mark.parametrize(
    ("loc", "path"),
    [
        (("body", "tasks", 2, "dependsOn", 0), "tasks[2].dependsOn[0]"),
        (("body", "name"), "name"),
        (("query", "limit"), "limit"),
        (("body",), "body"),
        (("body", 1), "[1]"),
    ],
)
def test_field_paths(loc: tuple[str | int, ...], path: str) -> None:
    assert field_path(loc) == path


def test_invalid_json_is_named_as_such() -> None:
    problem = validation_problem([{"type": "json_invalid", "loc": ("body", 1), "msg": "JSON decode error"}])
    assert problem.status == 400
    assert problem.detail == "The request body is not valid JSON."


def test_unknown_fields_and_missing_fields_read_plainly() -> None:
    problem = validation_problem(
        [
            {"type": "extra_forbidden", "loc": ("body", "x"), "msg": "Extra inputs are not permitted"},
            {"type": "missing", "loc": ("body", "tasks"), "msg": "Field required"},
        ]
    )
    assert [(e.field, e.message) for e in problem.errors] == [
        ("x", "unknown field"),
        ("tasks", "field required"),
    ]


def test_json_depth() -> None:
    from orchestration_core.shared.limits import json_depth

    assert json_depth(1) == 0
    assert json_depth({}) == 1
    assert json_depth({"a": [1, {"b": []}]}) == 4
    deep: object = 0
    for _ in range(5000):
        deep = [deep]
    assert json_depth(deep) == 5000
