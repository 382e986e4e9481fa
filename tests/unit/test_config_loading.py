"""The reference configuration and the fixtures load, build engine specs and carry a version."""

from __future__ import annotations

from pathlib import Path

from acd.config import build_engine_spec, config_version, load_config
from acd.core.ids import QueueId
from acd.core.spec import Membership, QueueSpec, Strategy

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "configs" / "acd.yaml"
MINIMAL = ROOT / "tests" / "data" / "configs" / "minimal.yaml"
ILE_DE_FRANCE = ["75", "77", "78", "91", "92", "93", "94", "95"]


def test_reference_configuration_declares_the_eight_ile_de_france_samu() -> None:
    """The shipped configs/acd.yaml loads cleanly with the eight SAMU of Île-de-France."""
    cfg = load_config(REFERENCE)
    assert [d.id for d in cfg.departments] == ILE_DE_FRANCE
    assert [p.name for p in cfg.pbx] == ["pbx1"]
    assert cfg.pbx[0].secret.env == "ACD_AMI_SECRET"
    assert cfg.console.host == "127.0.0.1"


def test_reference_configuration_builds_an_engine_spec_with_every_queue_and_agent() -> None:
    """The reference platform becomes an EngineSpec with its departments, queues and ARM."""
    spec = build_engine_spec(load_config(REFERENCE))
    assert len(spec.departments) == 8
    assert len(spec.queues) == 10
    assert len(spec.agents) == 49
    assert spec.default_priority == "normal"
    assert spec.priority("urgence-vitale") is not None
    assert {q.dept for q in spec.queues} == set(ILE_DE_FRANCE)


def test_every_reference_department_overflows_only_to_other_samu() -> None:
    """Each SAMU of the reference platform has an entraide chain that never names itself."""
    cfg = load_config(REFERENCE)
    assert sorted(cfg.overflow.rules) == ILE_DE_FRANCE
    for dept, rules in cfg.overflow.rules.items():
        for rule in rules:
            assert dept not in rule.partners


def test_arm_of_92_also_take_paris_calls_at_penalty_2() -> None:
    """Pooling: the agents of SAMU 92 serve the Paris general queue at penalty 2."""
    spec = build_engine_spec(load_config(REFERENCE))
    agents_92 = [a for a in spec.agents if a.id.startswith("arm-92")]
    assert agents_92
    for agent in agents_92:
        assert Membership(queue=QueueId("75-general"), penalty=2) in agent.memberships


def test_queue_values_left_unset_come_from_the_defaults() -> None:
    """A queue without its own timers takes the platform defaults; its own values win."""
    spec = build_engine_spec(load_config(REFERENCE))
    queues: dict[str, QueueSpec] = {q.id: q for q in spec.queues}
    assert queues["77-general"].ring_timeout_s == 15
    assert queues["77-general"].wrapup_s == 10
    assert queues["77-general"].strategy is Strategy.LONGEST_IDLE
    assert queues["75-pro"].ring_timeout_s == 20
    assert queues["75-pro"].strategy is Strategy.ROUND_ROBIN


def test_serving_a_department_without_queues_means_all_its_queues() -> None:
    """An agent serving "75" with no queue list is a member of every queue of SAMU 75."""
    spec = build_engine_spec(load_config(REFERENCE))
    camille = next(a for a in spec.agents if a.id == "arm-7501")
    assert [m.queue for m in camille.memberships] == ["75-general", "75-pro", "75-anglais"]


def test_skills_become_tuples_sorted_by_name() -> None:
    """Skill dictionaries become the core's sorted (name, level) tuples."""
    spec = build_engine_spec(load_config(REFERENCE))
    english = next(q for q in spec.queues if q.id == "75-anglais")
    assert english.required_skills == (("anglais", 1),)
    assert next(a for a in spec.agents if a.id == "arm-7501").skills == (("anglais", 2),)


def test_department_short_abandon_threshold_defaults_to_the_platform_value() -> None:
    """A department without its own short-abandon threshold takes the platform default."""
    spec = build_engine_spec(load_config(REFERENCE))
    assert {d.short_abandon_s for d in spec.departments} == {5.0}


def test_engine_spec_version_is_the_short_hash_of_the_file_bytes() -> None:
    """The configuration version is the first 12 hex digits of the file's SHA-256."""
    version = config_version(MINIMAL.read_bytes())
    assert len(version) == 12
    assert int(version, 16) >= 0
    assert load_config(MINIMAL).version == version
    assert build_engine_spec(load_config(MINIMAL)).version == version


def test_a_one_byte_change_gives_a_new_version() -> None:
    """Two files that differ by a comment have different versions."""
    raw = MINIMAL.read_bytes()
    assert config_version(raw) != config_version(raw + b"# edited\n")


def test_minimal_fixture_is_a_valid_platform() -> None:
    """The base of the bad-config fixtures is itself valid, so each fixture has one mistake."""
    spec = build_engine_spec(load_config(MINIMAL))
    assert [d.id for d in spec.departments] == ["75", "92"]
    assert spec.extra == {"instance": "test-15"}
