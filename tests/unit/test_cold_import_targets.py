"""The cold-import benchmark counts what a handler's first request imports through the
composition root's factories, so deferring an import there cannot hide its cost."""

from __future__ import annotations

from bench.cold_imports import SERVICES, factory_imports

SERVICES_SOURCE = """
from orchestration_core.shared.aws import client

def table():
    return client("dynamodb")

def engine():
    from orchestration_core.engine.stepfunctions import Engine
    return Engine(table())

def execution_services():
    from orchestration_core.executions.usecases import Services
    return Services(engine=engine())

def key_store():
    from orchestration_core.auth.store import KeyStore
    return KeyStore(table())
"""


def test_a_handler_is_charged_for_its_factories_and_the_factories_they_call() -> None:
    handler = "from orchestration_core.services import execution_services\n"
    expected = ["orchestration_core.engine.stepfunctions", "orchestration_core.executions.usecases"]
    assert factory_imports(handler, SERVICES_SOURCE) == expected


def test_factories_a_handler_never_names_are_not_charged() -> None:
    assert factory_imports("from orchestration_core.services import key_store\n", SERVICES_SOURCE) == [
        "orchestration_core.auth.store"
    ]
    assert factory_imports("import json\n", SERVICES_SOURCE) == []


def test_the_real_composition_root_defers_the_runner_to_the_runner_alone() -> None:
    source = SERVICES.read_text()
    assert "orchestration_core.executions.runner" in factory_imports(
        "from orchestration_core.services import runner\n", source
    )
    assert "orchestration_core.executions.runner" not in factory_imports(
        "from orchestration_core.services import execution_services\n", source
    )
