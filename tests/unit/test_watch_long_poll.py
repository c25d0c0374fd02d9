"""How `run --watch` and `executions watch` follow a run: long-polled reads (If-None-Match with
the last ETag, waitSeconds), against a scripted client: no server, no clock."""

from __future__ import annotations

import _thread
import signal
import threading
from typing import Any

import pytest

from orchestration_local import client as cli_client
from orchestration_local.client import Changes, interruptible, watch


def ex(status: str = "running", **tasks: str) -> dict[str, Any]:
    return {
        "id": "ex_1",
        "status": status,
        "startedAt": "2026-03-02T09:00:00.000Z",
        "completedAt": None if status == "running" else "2026-03-02T09:00:01.000Z",
        "tasks": [{"name": n, "status": s, "attempts": 1} for n, s in tasks.items()],
    }


class Scripted:
    """Answers each request with the next scripted (status, etag, body); records what was asked."""

    def __init__(self, *answers: tuple[int, str | None, dict[str, Any] | None]) -> None:
        self.answers = list(answers)
        self.asked: list[tuple[str, dict[str, Any] | None, dict[str, str] | None]] = []

    def request(self, method: str, path: str, **options: Any) -> tuple[int, dict[str, str], Any]:
        assert (method, path) == ("GET", "/executions/ex_1")
        self.asked.append((path, options.get("params"), options.get("headers")))
        status, etag, answer = self.answers.pop(0)
        return status, ({"etag": etag} if etag else {}), answer


def test_each_read_after_the_first_is_held_with_the_last_etag() -> None:
    scripted = Scripted(
        (200, '"1"', ex(a="running")),
        (304, '"1"', None),
        (200, '"2"', ex(a="completed", b="running")),
        (200, '"3"', ex("completed", a="completed", b="completed")),
    )
    changes = Changes(scripted, "ex_1", 20)  # type: ignore[arg-type]
    assert changes.first()["tasks"][0]["status"] == "running"
    assert changes.next() is None  # the wait was up, nothing changed
    assert changes.next() == ex(a="completed", b="running")
    assert changes.next() == ex("completed", a="completed", b="completed")
    assert scripted.asked == [
        ("/executions/ex_1", None, None),
        ("/executions/ex_1", {"waitSeconds": 20}, {"If-None-Match": '"1"'}),
        ("/executions/ex_1", {"waitSeconds": 20}, {"If-None-Match": '"1"'}),
        ("/executions/ex_1", {"waitSeconds": 20}, {"If-None-Match": '"2"'}),
    ]


def test_without_an_etag_it_reads_again_once_a_second() -> None:
    scripted = Scripted((200, None, ex(a="running")), (200, None, ex("completed", a="completed")))
    pauses: list[float] = []
    changes = Changes(scripted, "ex_1", 20, sleep=pauses.append)  # type: ignore[arg-type]
    changes.first()
    assert changes.next() == ex("completed", a="completed")
    assert pauses == [cli_client.NO_ETAG_PAUSE]
    assert [params for _, params, _ in scripted.asked] == [None, None]


def test_watch_prints_each_change_once_and_returns_the_end(capsys: pytest.CaptureFixture[str]) -> None:
    scripted = Scripted(
        (200, '"1"', ex(a="running", b="pending")),
        (304, '"1"', None),
        (304, '"1"', None),
        (200, '"2"', ex(a="completed", b="running")),
        (200, '"3"', ex("failed", a="completed", b="failed")),
    )
    final = watch(scripted, "ex_1", sleep=lambda s: pytest.fail("a held read never sleeps"))  # type: ignore[arg-type]
    assert final["status"] == "failed"
    lines = [line for line in capsys.readouterr().out.splitlines() if ": " in line and line[:1] in "·▶✔✘"]
    assert lines == [
        "▶ (execution): running",
        "▶ a: running",
        "· b: pending",
        "✔ a: completed",
        "▶ b: running",
        "✘ (execution): failed",
        "✘ b: failed",
    ]
    assert {params["waitSeconds"] for _, params, _ in scripted.asked[1:] if params} == {
        cli_client.WAIT_SECONDS
    }


def test_ctrl_c_stops_a_held_request_while_it_is_held() -> None:
    # A Ctrl-C that lands just before a blocking read starts is only seen when the read returns:
    # _thread.interrupt_main() makes that case (the flag is set, no system call is interrupted).
    assert threading.current_thread() is threading.main_thread()
    started, release, woke = threading.Event(), threading.Event(), threading.Event()

    def held() -> str:
        started.set()
        try:
            release.wait(60)
        finally:
            woke.set()
        return "answer"

    def press_ctrl_c() -> None:
        assert started.wait(60)
        _thread.interrupt_main()

    # Python's own Ctrl-C handling, whatever this process inherited (a suite started in the
    # background ignores SIGINT, and interrupt_main() then does nothing).
    inherited = signal.signal(signal.SIGINT, signal.default_int_handler)
    threading.Thread(target=press_ctrl_c, daemon=True).start()
    try:
        with pytest.raises(KeyboardInterrupt):
            interruptible(held)
        assert not woke.is_set()  # raised while the request was still held
    finally:
        release.set()
        signal.signal(signal.SIGINT, inherited)


def test_a_held_request_s_answer_and_error_come_back_as_they_are() -> None:
    assert interruptible(lambda: (304, {"etag": '"1"'}, None)) == (304, {"etag": '"1"'}, None)

    def refused() -> None:
        raise cli_client.ApiError(503, {"detail": "busy"})

    with pytest.raises(cli_client.ApiError, match="503: busy"):
        interruptible(refused)
