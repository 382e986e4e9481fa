"""Messages are frozen, slotted, keyword-only dataclasses with a cheaper constructor."""

from __future__ import annotations

from dataclasses import MISSING, dataclass, fields
from typing import Any, TypeVar, dataclass_transform

T = TypeVar("T")


@dataclass_transform(frozen_default=True, kw_only_default=True)
def message(cls: type[T]) -> type[T]:
    """``@dataclass(frozen=True, slots=True, kw_only=True)``, built faster.

    A frozen dataclass stores each field through ``object.__setattr__`` looked up by
    name, about three times a plain store; the engine builds several messages per event.
    This ``__init__`` calls each slot's own setter instead: the instance is the same
    frozen one (assignment still raises ``FrozenInstanceError``; equality, hashing and
    ``repr`` unchanged). Defaults are supported; default factories are not needed here.
    """
    built: Any = dataclass(frozen=True, slots=True, kw_only=True)(cls)
    params: list[str] = []
    stores: list[str] = []
    env: dict[str, Any] = {}
    for f in fields(built):
        if f.default_factory is not MISSING:
            raise TypeError(f"{built.__name__}.{f.name}: default factories are not supported")
        env[f"_set_{f.name}"] = getattr(built, f.name).__set__
        if f.default is MISSING:
            params.append(f.name)
        else:
            env[f"_default_{f.name}"] = f.default
            params.append(f"{f.name}=_default_{f.name}")
        stores.append(f"    _set_{f.name}(self, {f.name})")
    source = f"def __init__(self, *, {', '.join(params)}):\n" + "\n".join(stores) + "\n"
    namespace: dict[str, Any] = {}
    exec(source, env, namespace)  # noqa: S102 - built above from the class's field names
    init = namespace["__init__"]
    init.__qualname__ = f"{built.__qualname__}.__init__"
    built.__init__ = init
    return built  # type: ignore[no-any-return]
