"""Console roles: ordered by trust, parsed from text with a stable error slug."""

from __future__ import annotations

import pytest

from acd.console.roles import Role, UnknownRole, parse_role


def test_admin_allows_everything_a_supervisor_and_a_viewer_may_do() -> None:
    """An admin holds the supervisor's and the viewer's rights."""
    assert Role.ADMIN.allows(Role.SUPERVISOR)
    assert Role.ADMIN.allows(Role.VIEWER)
    assert Role.ADMIN.allows(Role.ADMIN)


def test_viewer_does_not_allow_supervisor_actions() -> None:
    """A viewer may only view; a supervisor may not administer."""
    assert not Role.VIEWER.allows(Role.SUPERVISOR)
    assert not Role.SUPERVISOR.allows(Role.ADMIN)
    assert Role.SUPERVISOR.allows(Role.VIEWER)


def test_roles_compare_by_trust_not_alphabetically() -> None:
    """Sorting and comparisons follow viewer < supervisor < admin."""
    assert sorted([Role.ADMIN, Role.VIEWER, Role.SUPERVISOR]) == list(Role)
    assert Role.ADMIN > Role.VIEWER
    assert Role.SUPERVISOR >= Role.SUPERVISOR
    assert Role.VIEWER < Role.ADMIN
    assert Role.VIEWER <= Role.SUPERVISOR


def test_comparing_a_role_with_plain_text_is_refused() -> None:
    """`role >= "supervisor"` would compare letters: it raises instead."""
    with pytest.raises(TypeError):
        assert Role.ADMIN >= "supervisor"


def test_roles_serialise_as_their_names() -> None:
    """A role is its lowercase name in YAML, JSON and headers."""
    assert str(Role.ADMIN) == "admin"
    assert Role("supervisor") is Role.SUPERVISOR
    assert isinstance(Role.VIEWER, str)


def test_parse_role_ignores_case_and_blanks() -> None:
    """A proxy header ` Supervisor ` names the supervisor role."""
    assert parse_role(" Supervisor ") is Role.SUPERVISOR


def test_parse_role_refuses_an_unknown_name_with_a_slug() -> None:
    """An unknown role raises a ValueError with slug unknown-role and the names allowed."""
    with pytest.raises(UnknownRole) as caught:
        parse_role("boss")
    assert isinstance(caught.value, ValueError)
    assert caught.value.slug == "unknown-role"
    assert "viewer, supervisor, admin" in caught.value.message
