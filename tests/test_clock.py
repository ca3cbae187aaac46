"""The worker's clock: timed tasks run at their interval, the first time at once, and one failing task stops
neither the others nor the clock."""

from __future__ import annotations

import math
import threading

from crm_plugin.delivery.clock import Clock, ClockTask


def test_tasks_run_at_once_then_at_their_interval(monkeypatch: object) -> None:
    now = [1000.0]
    import crm_plugin.delivery.clock as clock_module

    monkeypatch.setattr(clock_module.time, "monotonic", lambda: now[0])  # type: ignore[attr-defined]
    runs: list[str] = []
    clock = Clock([ClockTask("often", lambda: runs.append("often"), 10),
                   ClockTask("once", lambda: runs.append("once"), math.inf)])
    assert clock.run_due() == 2
    now[0] += 5
    assert clock.run_due() == 0
    now[0] += 5
    assert clock.run_due() == 1
    now[0] += 1e6
    clock.run_due()
    assert runs == ["often", "once", "often", "often"]


def test_a_failing_task_does_not_stop_the_others() -> None:
    ran = threading.Event()

    def broken() -> None:
        raise RuntimeError("the database is away")

    clock = Clock([ClockTask("broken", broken, 0), ClockTask("fine", ran.set, 0)], tick=0.01)
    clock.start()
    try:
        assert ran.wait(5)
        ran.clear()
        assert ran.wait(5)  # the clock went on after the failure
    finally:
        clock.stop()
    assert clock._thread is None


def test_the_worker_runs_its_clock_in_thread_mode(app: object) -> None:
    from crm_plugin.extension import make_worker

    ticked = threading.Event()
    worker = make_worker(app, clock_tasks=[ClockTask("tick", ticked.set, math.inf)])  # type: ignore[arg-type]
    worker.start_thread()
    try:
        assert ticked.wait(5)
    finally:
        worker.stop()
