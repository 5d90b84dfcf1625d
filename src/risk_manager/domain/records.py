"""Cheaper construction for the frozen, slotted dataclasses built on the hot paths.

Three tools:

- ``fast_builder(cls)``: a stand-in callable for a record whose bases add no ``__setattr__`` (the
  gateway events, PositionView): it fills a plain twin class's identical slots, then gives the
  object its real class. The fastest; the readers build an event per line with it.
- ``fast_init`` (a class decorator): ``cls(...)`` itself made cheaper, for every record, derived
  ones too (the Action kinds, whose frozen base forbids a twin): fields stored through their
  slots' descriptors.
- ``fast_copier(cls, changed)``: ``dataclasses.replace`` of a few fields, for the decisions a rule
  makes alike for the copies of a copied trade (``Action.for_account``): a twin on the record's own
  base whose ``__setattr__`` and ``__delattr__`` are object's, filled with plain stores.

A frozen dataclass's generated ``__init__`` sets each field through ``object.__setattr__(self,
"name", value)``: a by-name lookup per field, about 0.15 us each. The engine builds a record per
decision, per moved best price and per trailing band, so on a busy day these add up. ``fast_init``
replaces that ``__init__`` with one that stores each field through its slot's descriptor directly:
the same signature (defaults, keyword-only fields), the same checks (missing or unexpected
arguments still raise TypeError), the same frozen instance afterwards (assignment still raises
FrozenInstanceError); only the by-name lookup is gone.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import Any, TypeVar, cast

T = TypeVar("T")


def fast_init(cls: type[T]) -> type[T]:
    """Class decorator, applied above ``@dataclass(frozen=True, slots=True)``."""
    params = getattr(cls, "__dataclass_params__", None)
    if params is None or not params.frozen or "__slots__" not in cls.__dict__:
        raise TypeError(f"fast_init needs a frozen dataclass with slots, not {cls.__name__}")
    if hasattr(cls, "__post_init__"):
        raise TypeError(f"fast_init does not run __post_init__ ({cls.__name__} has one)")
    namespace: dict[str, Any] = {}
    positional: list[str] = []
    keyword: list[str] = []
    body: list[str] = []
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        if not f.init or f.default_factory is not dataclasses.MISSING:
            raise TypeError(f"fast_init does not handle {cls.__name__}.{f.name} (init=False or a factory)")
        descriptor = next(k.__dict__[f.name] for k in cls.__mro__ if f.name in k.__dict__)
        namespace[f"_set_{f.name}"] = descriptor.__set__
        param = f.name
        if f.default is not dataclasses.MISSING:
            namespace[f"_default_{f.name}"] = f.default
            param += f"=_default_{f.name}"
        (keyword if f.kw_only else positional).append(param)
        body.append(f"    _set_{f.name}(self, {f.name})")
    signature = ", ".join(["self", *positional, *(["*", *keyword] if keyword else [])])
    source = f"def __init__({signature}):\n" + ("\n".join(body) or "    pass") + "\n"
    exec(source, namespace)  # the source is built above from the dataclass's own field names
    init = namespace["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__doc__ = cls.__init__.__doc__
    cls.__init__ = init  # type: ignore[method-assign]
    return cls


def fast_builder(cls: type[T]) -> type[T]:
    """A stand-in for ``cls(...)`` that builds the identical frozen record in about half the time,
    for a record whose bases add no ``__setattr__`` (an event, a PositionView: not an Action kind,
    whose frozen base a plain twin cannot derive from; see fast_init and fast_copier).

    A frozen dataclass's ``__init__`` sets each field through ``object.__setattr__``: for a quote,
    more than all the rest of reading a recorded quote line, and readers build millions of events.
    The stand-in is a plain (not frozen) slotted dataclass with the same fields and defaults, so
    its generated ``__init__`` stores the fields directly into the same slot layout; then the object
    becomes a ``cls``, indistinguishable from one built by ``cls(...)`` (type, fields, equality,
    hash, frozen). Checked here once per class; if anything differs, ``cls`` itself is used.
    """
    if hasattr(cls, "__post_init__") or not hasattr(cls, "__slots__"):
        return cls
    spec: list[tuple[str, Any, Any]] = []
    for f in dataclasses.fields(cast(Any, cls)):
        if f.default_factory is not dataclasses.MISSING:
            default = dataclasses.field(default_factory=f.default_factory)
        else:
            default = dataclasses.field(default=f.default)  # MISSING: required, as on cls
        spec.append((f.name, f.type, default))

    def become_the_event(self: object) -> None:
        self.__class__ = cls

    try:
        builder = dataclasses.make_dataclass(
            f"_{cls.__name__}UnderConstruction",
            spec,
            # the same bases (a mixin of methods, as PositionView's): an object may only change to
            # a class of the same layout, which includes the base
            bases=cls.__bases__,
            namespace={"__post_init__": become_the_event},
            slots=True,
            eq=False,
            repr=False,
            match_args=False,
        )
    except TypeError:  # a frozen dataclass base (an Action kind): no plain twin can derive from it
        return cls
    probe = {f.name: f"probe-{f.name}" for f in dataclasses.fields(cast(Any, cls))}
    try:
        built: object = builder(**probe)
    except TypeError:  # the slot layouts differ after all
        return cls
    if type(built) is not cls or built != cls(**probe) or repr(built) != repr(cls(**probe)):
        return cls
    return cast(type[T], builder)


def fast_copier(cls: type[T], changed: tuple[str, ...]) -> Callable[..., T]:
    """A function ``(record, *values of changed)`` -> a copy of a ``cls`` record with the fields
    ``changed`` given those values: what ``dataclasses.replace`` gives, at an eighth of its cost
    (for the decisions a rule makes alike for the copies of a copied trade).

    ``replace`` checks its arguments and goes through ``__init__`` by keyword, which stores each
    field of a frozen record through ``object.__setattr__`` or its slot's descriptor (a C call each,
    the bulk of the cost). The copy is filled instead as a stand-in with the same slots on the same
    base, whose ``__setattr__`` and ``__delattr__`` are object's (a frozen record refuses them), so
    that each field is a plain store; then the object becomes a ``cls``, indistinguishable from one
    built by ``cls(...)`` (type, fields, equality, hash, frozen). Checked here once per class; if
    anything differs, the copy is left to ``replace``, as is a record of a subclass of ``cls``."""

    def replaced(record: T, *values: Any) -> T:
        return cast(T, dataclasses.replace(cast(Any, record), **dict(zip(changed, values, strict=True))))

    stand_in = type(
        f"_{cls.__name__}UnderCopy",
        cls.__bases__,
        {
            "__slots__": cls.__dict__["__slots__"],
            "__setattr__": object.__setattr__,
            "__delattr__": object.__delattr__,
        },
    )
    names = [f.name for f in dataclasses.fields(cast(Any, cls))]
    body = [
        f"def copy(record, {', '.join(changed)}):",
        "    if type(record) is not _cls:",
        f"        return _replaced(record, {', '.join(changed)})",
        "    new = _new(_stand_in)",
        *(f"    new.{name} = {name if name in changed else 'record.' + name}" for name in names),
        "    new.__class__ = _cls",
        "    return new",
    ]
    namespace: dict[str, Any] = {
        "_new": object.__new__,
        "_cls": cls,
        "_stand_in": stand_in,
        "_replaced": replaced,
    }
    exec("\n".join(body) + "\n", namespace)  # the source is built above from the record's field names
    copy: Callable[..., T] = namespace["copy"]
    copy.__qualname__ = f"{cls.__qualname__}.copy"
    probe = cls(**{name: f"probe-{name}" for name in names})
    values = [f"changed-{name}" for name in changed]
    try:
        made, expected = copy(probe, *values), replaced(probe, *values)
    except TypeError:  # the slot layouts differ after all
        return replaced
    if type(made) is not cls or made != expected or repr(made) != repr(expected):
        return replaced
    return copy


def fast_maker(cls: type[T]) -> Callable[..., T]:
    """A function ``(*values)`` -> a ``cls`` record with every field given, in field order: for
    rebuilding records sent as tuples of their values (a split replay's decisions), which a
    keyword-only ``__init__`` cannot take positionally. It is ``fast_copier`` changing every field
    of a blank record, so it costs what a copy costs."""
    names = tuple(f.name for f in dataclasses.fields(cast(Any, cls)))
    blank = cls(**dict.fromkeys(names))
    return functools.partial(fast_copier(cls, names), blank)
