"""Messages are frozen, slotted, keyword-only dataclasses with cheaper constructors."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import MISSING, dataclass, fields
from typing import Any, ParamSpec, TypeVar, dataclass_transform

T = TypeVar("T")
P = ParamSpec("P")


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


def builder(cls: Callable[P, T]) -> Callable[P, T]:
    """A keyword function building instances of slotted dataclass ``cls``, twice as cheap.

    Calling a class with keyword arguments makes the interpreter pack them into a dict
    before ``__init__`` unpacks them again, and each frozen field then costs a setter
    call. The builder is a plain function with the class's keyword-only signature: it
    fills an instance of a twin class with the same slots by ordinary stores, then gives
    it its real class (``__class__`` assignment between classes of identical layout).
    The result is an instance of ``cls`` like any other: frozen, equal to one built by
    ``cls(...)``, hashed and printed the same. A class that is not frozen is filled
    directly. Default factories are not supported (as in :func:`message`).
    """
    built: Any = cls
    names = [f.name for f in fields(built)]
    if tuple(names) != tuple(getattr(built, "__slots__", ())):
        raise TypeError(f"{built.__name__}: a builder needs a slotted dataclass (slots = fields)")
    if hasattr(built, "__post_init__"):
        raise TypeError(f"{built.__name__}: a builder does not run __post_init__")
    frozen = built.__dataclass_params__.frozen
    # A class that is not frozen takes ordinary stores itself: no twin needed.
    twin = type(f"_{built.__name__}Slots", (), {"__slots__": tuple(names)}) if frozen else built
    env: dict[str, Any] = {"_new": object.__new__, "_twin": twin, "_cls": built}
    params: list[str] = []
    for f in fields(built):
        if f.default_factory is not MISSING:
            raise TypeError(f"{built.__name__}.{f.name}: default factories are not supported")
        if f.default is MISSING:
            params.append(f.name)
        else:
            env[f"_default_{f.name}"] = f.default
            params.append(f"{f.name}=_default_{f.name}")
    stores = "".join(f"    self.{n} = {n}\n" for n in names)
    swap = "    self.__class__ = _cls\n" if frozen else ""
    source = (
        f"def build(*, {', '.join(params)}):\n    self = _new(_twin)\n{stores}{swap}"
        "    return self\n"
    )
    namespace: dict[str, Any] = {}
    exec(source, env, namespace)  # noqa: S102 - built above from the class's field names
    build = namespace["build"]
    build.__name__ = f"build_{built.__name__}"
    build.__qualname__ = build.__name__
    build.__doc__ = f"Build a :class:`{built.__name__}` (same keywords, same frozen instance)."
    return build  # type: ignore[no-any-return]
