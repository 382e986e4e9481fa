"""Configuration models built in code obey the same rules as the YAML loader."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from acd.config import AcdConfig, build_engine_spec


def platform(**overrides: Any) -> dict[str, Any]:
    """A minimal valid configuration as plain data, with top-level sections replaced."""
    data: dict[str, Any] = {
        "instance": {"name": "code-15"},
        "pbx": [{"name": "pbx1", "host": "::1", "username": "acd", "secret": {"env": "S"}}],
        "redis": {"url": "memory://"},
        "journal": {"url": "memory://"},
        "departments": [{"id": "2A", "name": "SAMU de Corse-du-Sud", "queues": [{"id": "2a"}]}],
        "agents": [{"id": "a1", "name": "A", "endpoint": "PJSIP/a1", "serves": [{"dept": "2A"}]}],
    }
    data.update(overrides)
    return data


def test_configuration_built_in_code_gets_a_stable_version() -> None:
    """Without a source file, the version hashes the canonical content."""
    first = AcdConfig.model_validate(platform())
    second = AcdConfig.model_validate(platform())
    assert first.version == second.version
    assert build_engine_spec(first).version == first.version


def test_corsican_department_ids_are_accepted() -> None:
    """Department ids 2A and 2B are valid."""
    spec = build_engine_spec(AcdConfig.model_validate(platform()))
    assert spec.departments[0].id == "2A"
    assert spec.agents[0].memberships[0].queue == "2a"


def test_cross_references_are_checked_for_configurations_built_in_code() -> None:
    """A model validated from data rejects an agent serving an unknown department."""
    agents = [{"id": "a1", "name": "A", "endpoint": "PJSIP/a1", "serves": [{"dept": "99"}]}]
    with pytest.raises(ValidationError, match=r"agents\[0\]\.serves\[0\]\.dept"):
        AcdConfig.model_validate(platform(agents=agents))


def test_configuration_is_frozen() -> None:
    """A loaded configuration cannot be changed in place."""
    cfg = AcdConfig.model_validate(platform())
    with pytest.raises(ValidationError):
        cfg.instance = cfg.instance


def test_sentinels_need_a_master_name() -> None:
    """A Redis Sentinel setup without the master's name is refused."""
    redis = {"url": "redis://r:6379/0", "sentinels": [{"host": "s1"}]}
    with pytest.raises(ValidationError, match="master_name"):
        AcdConfig.model_validate(platform(redis=redis))


def test_journal_accepts_postgresql_and_oracle_urls_without_passwords() -> None:
    """The journal takes PostgreSQL and Oracle URLs; the password stays a reference."""
    for url in (
        "postgresql+psycopg://acd@db:5432/acd",
        "oracle+oracledb://acd@db:1521/?service_name=ACD",
    ):
        journal = {"url": url, "password": {"file": "/run/secrets/db"}}
        assert AcdConfig.model_validate(platform(journal=journal)).journal.url == url


def test_unsupported_journal_scheme_is_refused() -> None:
    """A journal URL with an unknown scheme is refused with the accepted list."""
    with pytest.raises(ValidationError, match="unsupported URL scheme 'mysql'"):
        AcdConfig.model_validate(platform(journal={"url": "mysql://acd@db/acd"}))
