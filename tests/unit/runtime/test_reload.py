"""Hot reload of the overflow rules: valid files apply at once, bad ones never do."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from pathlib import Path

import pytest

from acd.config import build_engine_spec, config_version, load_config
from acd.core import events as ev
from acd.core.commands import CallRecord, Command
from acd.core.engine import Engine
from acd.core.ids import AgentId, CallId, DeptId
from acd.core.states import CallState
from acd.runtime.reload import ConfigReloader, engine_applier, restart_sections

DATA = Path(__file__).parents[2] / "data" / "configs"
BASE = (DATA / "minimal.yaml").read_text(encoding="utf-8")
OLD_RULES = """\
    "75":
      - {id: 75-entraide, partners: ["92", samu-60]}
"""


def with_threshold(waiting: int) -> str:
    """The minimal platform whose 75 rule fires from ``waiting`` calls on."""
    rule = (
        '    "75":\n'
        "      - id: 75-entraide\n"
        f"        when: {{waiting: {{at_least: {waiting}}}}}\n"
        '        partners: ["92"]\n'
        "        look_ahead: {better_than_origin: false}\n"
    )
    assert OLD_RULES in BASE
    return BASE.replace(OLD_RULES, rule)


class Clock:
    """A settable wall clock for the engine and the reloader."""

    def __init__(self) -> None:
        self.t = 1_780_000_000.0

    def __call__(self) -> float:
        return self.t


def _setup(tmp_path: Path, waiting: int) -> tuple[Path, Engine, Clock, ConfigReloader]:
    path = tmp_path / "acd.yaml"
    path.write_text(with_threshold(waiting), encoding="utf-8")
    engine = Engine(build_engine_spec(load_config(path)))
    clock = Clock()
    reloader = ConfigReloader(path, apply=engine_applier(engine, clock=clock), clock=clock)
    return path, engine, clock, reloader


def _tick(engine: Engine, clock: Clock, seconds: float) -> list[Command]:
    out: list[Command] = []
    end = clock.t + seconds
    while (due := engine.next_deadline()) is not None and due <= end:
        clock.t = max(clock.t, due)
        out += engine.handle(ev.Tick(), clock.t)
    clock.t = end
    return out


def _moved(out: list[Command]) -> list[CallId]:
    return [
        c.call
        for c in out
        if isinstance(c, CallRecord)
        and c.previous is CallState.WAITING
        and c.state is CallState.WAITING
    ]


def _saturate(engine: Engine, clock: Clock) -> None:
    """Three callers wait in 75 and 92's ARM is free."""
    engine.handle(ev.AgentLoggedIn(agent=AgentId("arm-9201")), clock.t)
    for n in range(3):
        engine.handle(ev.CallArrived(call=CallId(f"pbx1/{n}"), dept=DeptId("75")), clock.t)


def test_valid_reload_changes_decisions_from_the_next_evaluation(tmp_path: Path) -> None:
    """Lowering the threshold in the file moves a caller at the next evaluation."""
    path, engine, clock, reloader = _setup(tmp_path, waiting=50)
    _saturate(engine, clock)
    assert _moved(_tick(engine, clock, 3)) == []
    path.write_text(with_threshold(2), encoding="utf-8")
    outcome = reloader.reload()
    assert outcome.status == "applied"
    assert reloader.current.version == outcome.version
    assert _moved(_tick(engine, clock, 1.0)) == [CallId("pbx1/0")]
    assert engine.call_state(CallId("pbx1/1")) is CallState.WAITING


def test_invalid_reload_is_rejected_with_its_line_and_changes_nothing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A rule naming an unknown partner is refused with FILE:LINE; the running rules stay."""
    path, engine, clock, reloader = _setup(tmp_path, waiting=50)
    _saturate(engine, clock)
    before = reloader.current.version
    broken = with_threshold(2).replace('partners: ["92"]', 'partners: ["99"]')
    path.write_text(broken, encoding="utf-8")
    line = broken.splitlines().index('        partners: ["99"]') + 1
    with caplog.at_level(logging.ERROR, logger="acd.reload"):
        outcome = reloader.reload()
    assert outcome.status == "rejected"
    assert any(e.startswith(f"{path}:{line} ") and "99" in e for e in outcome.errors), outcome
    assert any(f"{path}:{line}" in r.getMessage() for r in caplog.records)
    assert reloader.current.version == before
    assert _moved(_tick(engine, clock, 3)) == []  # the threshold of 50 still holds


def test_unreadable_file_is_rejected_and_the_running_one_stays(tmp_path: Path) -> None:
    """A file removed or unreadable during a reload leaves the running configuration."""
    path, _engine, _clock, reloader = _setup(tmp_path, waiting=50)
    before = reloader.current.version
    path.unlink()
    outcome = reloader.reload()
    assert outcome.status == "rejected"
    assert reloader.current.version == before


def test_same_content_is_not_applied_twice(tmp_path: Path) -> None:
    """Touching the file without changing it applies nothing."""
    path, _engine, _clock, reloader = _setup(tmp_path, waiting=50)
    path.write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    assert reloader.reload().status == "unchanged"


def test_version_label_is_content_hash_and_load_time(tmp_path: Path) -> None:
    """The recorded version is the content hash and the UTC time it was loaded."""
    _path, _engine, clock, reloader = _setup(tmp_path, waiting=50)
    assert reloader.current.label == f"{reloader.current.version}@2026-05-28T20:26:40Z"
    assert clock.t == reloader.current.loaded_at


def test_changes_outside_overflow_wait_for_a_restart(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A changed agent list is reported as waiting for a restart, never half-applied."""
    path, _engine, _clock, reloader = _setup(tmp_path, waiting=50)
    old = reloader.current.config
    path.write_text(with_threshold(50).replace("Camille M.", "Camille N."), encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="acd.reload"):
        assert reloader.reload().status == "applied"
    assert restart_sections(reloader.current.config, old) == ["agents"]
    assert any("'agents'" in r.getMessage() for r in caplog.records)


@pytest.mark.asyncio
async def test_sighup_reloads_the_file(tmp_path: Path) -> None:
    """kill -HUP makes the running process read the file again."""
    path, _engine, _clock, reloader = _setup(tmp_path, waiting=50)
    loop = asyncio.get_running_loop()
    reloader.install_sighup(loop)
    try:
        path.write_text(with_threshold(2), encoding="utf-8")
        os.kill(os.getpid(), signal.SIGHUP)
        for _ in range(100):
            await asyncio.sleep(0.01)
            if reloader.last.status == "applied" and reloader.current.version != _version(50):
                break
        assert reloader.current.version == _version(2)
    finally:
        reloader.remove_sighup(loop)


@pytest.mark.asyncio
async def test_file_change_is_picked_up_by_the_watcher(tmp_path: Path) -> None:
    """Saving the file is enough: the watcher notices and reloads."""
    path, _engine, _clock, reloader = _setup(tmp_path, waiting=50)
    watcher = asyncio.create_task(reloader.watch(every_s=0.02))
    try:
        await asyncio.sleep(0.05)
        path.write_text(with_threshold(3), encoding="utf-8")
        for _ in range(200):
            await asyncio.sleep(0.01)
            if reloader.current.version == _version(3):
                break
        assert reloader.current.version == _version(3)
    finally:
        watcher.cancel()
        with pytest.raises(asyncio.CancelledError):
            await watcher


def _version(waiting: int) -> str:
    return config_version(with_threshold(waiting).encode("utf-8"))


def test_rules_for_a_department_the_service_does_not_run_wait_for_a_restart(
    tmp_path: Path,
) -> None:
    """A new department with its rule: the rule cannot apply live, the running ones stay."""
    path, engine, _clock, reloader = _setup(tmp_path, waiting=50)
    before = reloader.current.version
    rules_before = engine.overflow.rules
    text = with_threshold(2).replace(
        '  - id: "92"\n',
        '  - id: "60"\n    name: SAMU 60\n    queues:\n      - id: 60-general\n  - id: "92"\n',
        1,
    )
    text = text.replace('partners: ["92"]', 'partners: ["60"]')
    path.write_text(text, encoding="utf-8")
    outcome = reloader.reload()
    assert outcome.status == "rejected", outcome
    assert "60" in outcome.errors[0]
    assert reloader.current.version == before
    assert engine.overflow.rules == rules_before
