"""In-memory fakes of the core's store interfaces, for unit tests that run use cases, the task
runner's decisions and the schedule dispatcher in milliseconds (no moto, no sleeps).

Each fake keeps the semantics the callers depend on: conditional writes raise ConditionFailed
(or answer False / the item as it is) exactly where the DynamoDB store does, lists are newest
first with the same Page shape (exact total, offset, a nextToken cursor). The contract test in
tests/integration/test_store_fakes_contract.py runs one scenario against a fake and the real
store on moto so the two cannot drift.
"""

from tests.fakes.clock import FakeClock
from tests.fakes.engine import FakeEngine
from tests.fakes.executions import FakeExecutionStore
from tests.fakes.schedules import FakeScheduleStore
from tests.fakes.services import FakeServices, fake_services
from tests.fakes.workflows import FakeWorkflowStore

__all__ = [
    "FakeClock",
    "FakeEngine",
    "FakeExecutionStore",
    "FakeScheduleStore",
    "FakeServices",
    "FakeWorkflowStore",
    "fake_services",
]
