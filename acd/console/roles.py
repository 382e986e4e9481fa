"""Console roles, ordered by trust: admin ⊇ supervisor ⊇ viewer in what each may do."""

from __future__ import annotations

from enum import StrEnum


class UnknownRole(ValueError):
    """A role name that is none of viewer, supervisor, admin (slug ``unknown-role``)."""

    slug = "unknown-role"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Role(StrEnum):
    """What a console user may do; members are declared from the least to the most trusted."""

    VIEWER = "viewer"
    """Sees the boards; caller numbers are masked."""
    SUPERVISOR = "supervisor"
    """Also acts on calls and agents."""
    ADMIN = "admin"
    """Also changes the configuration."""

    @property
    def rank(self) -> int:
        """0 for viewer, 1 for supervisor, 2 for admin."""
        return _RANKS[self]

    def allows(self, needed: Role) -> bool:
        """Whether a user with this role may do what ``needed`` is required for."""
        return self.rank >= needed.rank

    # A StrEnum compares as text, which would put "admin" below "viewer": comparisons go by
    # trust instead, and refuse plain strings so that `role >= "supervisor"` cannot slip in.
    def __lt__(self, other: str) -> bool:
        return self.rank < _rank_of(other)

    def __le__(self, other: str) -> bool:
        return self.rank <= _rank_of(other)

    def __gt__(self, other: str) -> bool:
        return self.rank > _rank_of(other)

    def __ge__(self, other: str) -> bool:
        return self.rank >= _rank_of(other)


_RANKS = {role: rank for rank, role in enumerate(Role)}


def _rank_of(other: str) -> int:
    if not isinstance(other, Role):
        raise TypeError(f"a role compares with a role, not {type(other).__name__}")
    return other.rank


def parse_role(text: str) -> Role:
    """The role named by ``text`` (case and surrounding blanks ignored), or ``UnknownRole``."""
    try:
        return Role(text.strip().lower())
    except ValueError:
        shown = text if len(text) <= 40 else text[:40] + "…"
        names = ", ".join(role.value for role in Role)
        raise UnknownRole(f"unknown role {shown!r}: expected one of {names}") from None
