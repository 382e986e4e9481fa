"""What supervisors do through the API, seen in the engine, the PBX and the journal."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest

from acd.console.masking import mask_number
from connectors.asterisk.fake import Fate
from tests.e2e.console.harness import API, CRISIS_RULE, Console, eventually, segment, until

pytestmark = pytest.mark.asyncio(loop_scope="module")


def _agent(agents: list[dict[str, Any]], agent: str) -> dict[str, Any]:
    return next(a for a in agents if a["agent"] == agent)


async def test_a_paused_agent_shows_paused_and_the_pause_is_audited_under_its_supervisor(
    console: Console,
) -> None:
    """Pause with a reason: the ARM is ``paused`` for everyone; the audit names the supervisor."""
    answer = await console.supervisor.post(f"{API}/agents/arm-9301/pause", {"reason": "repas"})
    try:
        assert answer.status == 200, answer
        agents = (await console.viewer.get(f"{API}/agents?dept=93")).body["agents"]
        paused = _agent(agents, "arm-9301")
        assert (paused["state"], paused["pause_reason"]) == ("paused", "repas")

        async def audited() -> list[dict[str, Any]] | None:
            query = "actor=supervisor&action=agent-pause&target=arm-9301"
            items = (await console.supervisor.get(f"{API}/audit?{query}")).body["items"]
            return items or None

        [entry] = await eventually(audited, what="the pause in the audit trail")
        assert entry["role"] == "supervisor"
        assert entry["source"] == "127.0.0.1"
        assert "repas" in entry["details"]
    finally:
        await console.supervisor.ok("POST", f"{API}/agents/arm-9301/unpause")


async def test_crisis_mode_switches_the_crisis_rule_on_within_the_evaluation_period(
    console: Console,
) -> None:
    """Crisis on for the 93: its crisis rule is active at the next evaluations; off again after."""

    async def rule_active(active: bool) -> dict[str, Any] | None:
        view = (await console.viewer.get(f"{API}/overflow")).body
        rule = next(r for r in view["rules"] if r["id"] == CRISIS_RULE)
        return view if rule["active"] is active else None

    before = await rule_active(False)
    assert before is not None
    assert "93" not in before["crisis"]
    started = time.monotonic()
    answer = await console.supervisor.put(f"{API}/departments/93/crisis", {"on": True})
    try:
        assert answer.status == 200, answer
        view = await eventually(lambda: rule_active(True), what="the crisis rule active")
        took = time.monotonic() - started
        assert took < 1.0, f"crisis rule active after {took:.2f} s (evaluated every 0.2 s)"
        assert view["crisis"] == ["93"]
        tiles = (await console.viewer.get(f"{API}/wallboard")).body["tiles"]
        tile = next(t for t in tiles if t["dept"] == "93")
        assert tile["crisis"] is True
        assert tile["active_rules"] == [CRISIS_RULE]
    finally:
        await console.supervisor.ok("PUT", f"{API}/departments/93/crisis", {"on": False})
    await eventually(lambda: rule_active(False), what="the crisis rule off again")


async def test_a_forced_overflow_sends_the_waiting_call_to_the_chosen_partner(
    console: Console,
) -> None:
    """Nobody free in 75: the supervisor sends the caller to the 92, where an ARM answers."""
    async with console.held("75"):
        uid, call = await console.place_caller("75", "0622334455")
        path = f"{API}/calls/{segment(call)}"
        options = (await console.supervisor.get(f"{path}/overflow-options")).body
        assert {o["partner"] for o in options["options"]} == {"92", "93", "samu-60"}
        unknown = await console.supervisor.post(f"{path}/overflow", {"partner": "nowhere"})
        assert (unknown.status, unknown.slug) == (422, "unknown-partner"), unknown

        answer = await console.supervisor.post(f"{path}/overflow", {"partner": "92"})
        assert answer.status == 200, answer

        async def left_75() -> bool | None:
            calls = (await console.supervisor.get(f"{API}/departments/75")).body["calls"]
            return True if all(c["call"] != call for c in calls) else None

        await eventually(left_75, what="the call gone from the 75")
        caller = console.fake.caller(uid)
        assert caller is not None
        await until(lambda: caller.fate is Fate.ANSWERED, what="the caller answered")
        assert caller.channel.vars["ACD_DEPT"] == "92"
        again = await console.supervisor.post(f"{path}/overflow", {"partner": "93"})
        assert (again.status, again.slug) == (409, "call-not-waiting"), again
    gone = await console.supervisor.post(f"{API}/calls/pbx1%2F1.1/overflow", {"partner": "92"})
    assert (gone.status, gone.slug) == (404, "unknown-call"), gone


async def test_an_action_on_an_unknown_agent_is_refused_as_unknown_agent(console: Console) -> None:
    """Pausing an ARM the service does not know: 404 ``unknown-agent``."""
    answer = await console.supervisor.post(f"{API}/agents/arm-0000/pause", {"reason": "repas"})
    assert (answer.status, answer.slug) == (404, "unknown-agent"), answer


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ({"reason": "repas", "until": "13:00"}, "until"),
        ({}, "reason"),
        ({"reason": ""}, "reason"),
        ("repas", "body"),
    ],
    ids=["unknown-field", "missing-reason", "empty-reason", "not-an-object"],
)
async def test_a_pause_with_a_bad_body_is_refused_and_changes_nothing(
    console: Console, body: Any, where: str
) -> None:
    """An unknown field, no reason, an empty one: 422 ``invalid-request`` naming the field."""
    answer = await console.supervisor.post(f"{API}/agents/arm-9302/pause", body)
    assert (answer.status, answer.slug) == (422, "invalid-request"), answer
    assert any(d["loc"] == where for d in answer.body["error"]["details"]), answer
    assert console.agent_state("arm-9302").value == "available"


async def test_malformed_json_is_refused_as_an_invalid_request(console: Console) -> None:
    """A body cut short: 422 ``invalid-request``, the agent untouched."""
    answer = await console.supervisor.send(
        "POST",
        f"{API}/agents/arm-9302/pause",
        data='{"reason": "rep',
        content_type="application/json",
    )
    assert (answer.status, answer.slug) == (422, "invalid-request"), answer
    assert console.agent_state("arm-9302").value == "available"


@pytest.mark.parametrize(
    ("content_type", "data"),
    [("application/x-www-form-urlencoded", "reason=repas"), ("text/plain", '{"reason": "repas"}')],
    ids=["form", "text"],
)
async def test_a_body_that_is_not_json_is_refused_as_unsupported_media_type(
    console: Console, content_type: str, data: str
) -> None:
    """A form or text body: 415 ``unsupported-media-type``."""
    answer = await console.supervisor.send(
        "POST", f"{API}/agents/arm-9302/pause", data=data, content_type=content_type
    )
    assert (answer.status, answer.slug) == (415, "unsupported-media-type"), answer
    assert console.agent_state("arm-9302").value == "available"


async def test_a_viewer_sees_caller_numbers_masked_and_a_supervisor_sees_them_whole(
    console: Console,
) -> None:
    """A waiting caller's number: ``06••••••78`` for a viewer, whole for a supervisor."""
    async with console.held("75"):
        _, call = await console.place_caller("75", "0612345678")
        seen = {}
        for client in (console.viewer, console.supervisor, console.admin):
            calls = (await client.get(f"{API}/departments/75")).body["calls"]
            seen[client.user] = next(c["caller"] for c in calls if c["call"] == call)
    assert seen == {"viewer": "06••••••78", "supervisor": "0612345678", "admin": "0612345678"}


async def test_an_abandoned_caller_is_in_the_worklist_until_a_supervisor_calls_back(
    console: Console,
) -> None:
    """A waiting caller hangs up: listed ``to-call-back`` until a supervisor calls them back."""
    number = "0699887766"
    async with console.held("75"):
        uid, call = await console.place_caller("75", number)
        assert console.fake.hangup_caller(uid)

    async def item(status: str) -> dict[str, Any] | None:
        items = (await console.supervisor.get(f"{API}/callbacks?dept=75")).body["items"]
        found = [i for i in items if call in i["call_ids"] and i["status"] == status]
        return found[0] if found else None

    listed = await eventually(lambda: item("to-call-back"), what="the abandoned call listed")
    assert (listed["caller"], listed["dept"], listed["repeats"]) == (number, "75", 1)
    viewed = (await console.viewer.get(f"{API}/callbacks?dept=75")).body["items"]
    assert [i["caller"] for i in viewed if call in i["call_ids"]] == [mask_number(number)]

    status = f"{API}/callbacks/{segment(call)}/status"
    refused = await console.viewer.put(status, {"status": "called-back"})
    assert (refused.status, refused.slug) == (403, "forbidden"), refused
    answer = await console.supervisor.put(status, {"status": "called-back", "note": "rappelé"})
    assert answer.status == 200, answer
    done = await eventually(lambda: item("called-back"), what="the item called back")
    assert done["updated_by"] == "supervisor"


async def test_reloading_an_unchanged_file_answers_unchanged(console: Console) -> None:
    """An admin reloads the same file: ``unchanged``, same version."""
    version = (await console.viewer.get(f"{API}/config")).body["version"]
    answer = await console.admin.post(f"{API}/config/reload")
    assert answer.status == 200, answer
    assert (answer.body["status"], answer.body["version"]) == ("unchanged", version)


async def test_reloading_a_broken_file_is_rejected_with_its_lines_and_keeps_the_running_one(
    console: Console,
) -> None:
    """A negative evaluation period: 422 ``config-rejected`` with ``FILE:LINE path: reason``."""
    path = console.config_path
    good = path.read_text(encoding="utf-8")
    before = (await console.viewer.get(f"{API}/config")).body
    line = next(n for n, text in enumerate(good.splitlines(), 1) if "evaluate_every_s" in text)
    path.write_text(good.replace("evaluate_every_s: 0.2", "evaluate_every_s: -1"), "utf-8")
    try:
        answer = await console.admin.post(f"{API}/config/reload")
    finally:
        path.write_text(good, encoding="utf-8")
    assert (answer.status, answer.slug) == (422, "config-rejected"), answer
    details = answer.body["error"]["details"]
    pattern = re.compile(rf"{re.escape(str(path))}:{line} overflow\.evaluate_every_s: .+")
    assert any(pattern.fullmatch(d) for d in details), details
    after = (await console.viewer.get(f"{API}/config")).body
    assert (after["version"], after["label"]) == (before["version"], before["label"])
    assert console.service.engine.overflow.evaluate_every_s == 0.2


@pytest.mark.parametrize(
    ("method", "path", "status", "slug"),
    [
        ("GET", f"{API}/nothing-here", 404, "not-found"),
        ("DELETE", f"{API}/agents", 405, "method-not-allowed"),
    ],
    ids=["unknown-path", "wrong-method"],
)
async def test_a_request_outside_the_route_table_is_refused_in_json(
    console: Console, method: str, path: str, status: int, slug: str
) -> None:
    """An unknown API path or method: the status and slug in the usual JSON refusal."""
    answer = await console.supervisor.send(method, path)
    assert (answer.status, answer.slug) == (status, slug), answer


async def test_a_body_over_64_kib_is_refused_as_too_large(console: Console) -> None:
    """A 70 kB pause reason: 413 ``request-too-large``, the agent untouched."""
    body = '{"reason": "' + "x" * 70_000 + '"}'
    answer = await console.supervisor.send(
        "POST", f"{API}/agents/arm-9302/pause", data=body, content_type="application/json"
    )
    assert (answer.status, answer.slug) == (413, "request-too-large"), answer
    assert console.agent_state("arm-9302").value == "available"
