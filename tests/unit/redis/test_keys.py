"""The hot state's key templates: one namespace per platform, department loads shared."""

from __future__ import annotations

from fnmatch import fnmatchcase

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connectors.redis import keys as k

IDF = k.Keyspace("idf-15")


def test_platform_keys_carry_the_namespace() -> None:
    """Every key of a platform's own state sits under ``acd:{namespace}:``."""
    assert IDF.epoch == "acd:idf-15:epoch"
    assert IDF.calls == "acd:idf-15:calls"
    assert IDF.call("pbx1/1700000000.12") == "acd:idf-15:call:pbx1/1700000000.12"
    assert IDF.agents == "acd:idf-15:agents"
    assert IDF.agent("75-arm3") == "acd:idf-15:agent:75-arm3"
    assert IDF.loads == "acd:idf-15:loads"
    assert IDF.notices == "acd:idf-15:notices"


def test_department_loads_are_shared_between_platforms() -> None:
    """A department's load has one key whatever platform writes or reads it."""
    assert IDF.load("75") == k.load_key("75") == "acd:load:75"
    assert k.Keyspace("hdf-15").load("samu-60") == IDF.load("samu-60") == "acd:load:samu-60"


def test_scan_pattern_matches_its_platform_only() -> None:
    """The namespace's SCAN pattern takes its own keys, not a longer namespace's or loads."""
    pattern = IDF.pattern()
    assert fnmatchcase(IDF.call("c1"), pattern)
    assert fnmatchcase(IDF.epoch, pattern)
    assert not fnmatchcase(k.Keyspace("idf-15b").epoch, pattern)
    assert not fnmatchcase(IDF.load("75"), pattern)


@pytest.mark.parametrize(
    "namespace", ["", "idf 15", "idf:15", "{idf}", "idf*", "-idf", "load", "x" * 65]
)
def test_namespace_that_could_clash_or_glob_is_refused(namespace: str) -> None:
    """A namespace with separators, glob characters, or the shared ``load`` is refused."""
    with pytest.raises(ValueError, match="namespace"):
        k.Keyspace(namespace)


@given(
    namespace=st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,20}", fullmatch=True),
    item=st.text(min_size=1, max_size=12),
)
def test_no_platform_key_is_ever_a_department_load_key(namespace: str, item: str) -> None:
    """Whatever the (valid) namespace and id, platform keys never land on a shared load."""
    if namespace == "load":
        return
    space = k.Keyspace(namespace)
    for key in (space.epoch, space.calls, space.call(item), space.agent(item), space.notices):
        assert not key.startswith("acd:load:")


def test_ttls_outlive_what_they_describe() -> None:
    """A load goes stale within a minute; call and agent records outlive any call or shift."""
    assert 0 < k.LOAD_TTL_S <= 60
    assert k.CALL_TTL_S >= 12 * 3600
    assert k.AGENT_TTL_S >= k.CALL_TTL_S
