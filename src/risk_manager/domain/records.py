"""Cheaper construction for the frozen, slotted dataclasses built on the hot paths.

The tools:

- ``fast_builder(cls)``: a stand-in function for ``cls(...)``, same parameters: it fills a twin
  class's identical slots with plain stores, then gives the object its real class. The fastest;
  the readers build an event per line with it.
- ``fast_init`` (a class decorator): ``cls(...)`` itself made cheaper, for every record, derived
  ones too: fields stored through their slots' descriptors.
- ``fast_copier(cls, changed)``: ``dataclasses.replace`` of a few fields, for the decisions a rule
  makes alike for the copies of a copied trade (``Action.for_account``), filled the same way as
  ``fast_builder``'s; and ``fast_maker(cls)``, ``cls`` from its values in field order.

The twin derives from the record's own bases (an object may only change to a class of the same
layout, which includes the base) and has object's ``__setattr__`` and ``__delattr__``, which a
frozen record (or a frozen base, as the Action kinds') refuses.

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
    parameters = _parameters(cls, namespace)
    if parameters is None:
        raise TypeError(f"fast_init does not handle {cls.__name__}'s fields (init=False or a factory)")
    body: list[str] = []
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        descriptor = next(k.__dict__[f.name] for k in cls.__mro__ if f.name in k.__dict__)
        namespace[f"_set_{f.name}"] = descriptor.__set__
        body.append(f"    _set_{f.name}(self, {f.name})")
    source = f"def __init__({', '.join(['self', *parameters])}):\n" + ("\n".join(body) or "    pass") + "\n"
    exec(source, namespace)  # the source is built above from the dataclass's own field names
    init = namespace["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__doc__ = cls.__init__.__doc__
    cls.__init__ = init  # type: ignore[method-assign]
    return cls


def fast_builder(cls: type[T]) -> type[T]:
    """A stand-in for ``cls(...)`` that builds the identical frozen record in about 40 % of the time.

    A frozen dataclass's ``__init__`` sets each field through ``object.__setattr__``: for a quote,
    more than all the rest of reading a recorded quote line, and readers build millions of events.
    The stand-in is one function with ``cls.__init__``'s parameters (names, order, defaults,
    keyword-only marker), so it takes and refuses the same arguments; it fills a twin's slots with
    plain stores, then makes the object a ``cls``, indistinguishable from one built by ``cls(...)``
    (type, fields, equality, hash, frozen). Checked here once per class; if anything differs, or
    the record runs a ``__post_init__`` or has a field a parameter list cannot express (init=False,
    a default factory), ``cls`` itself is used.
    """
    namespace: dict[str, Any] = {}
    parameters = _parameters(cls, namespace)
    if parameters is None or hasattr(cls, "__post_init__") or "__slots__" not in cls.__dict__:
        return cls
    names = _names(cls)
    build = _filler(cls, "build", parameters, dict(zip(names, names, strict=True)), namespace)
    probe = {name: f"probe-{name}" for name in names}
    if not _builds_alike(lambda: build(**probe), lambda: cls(**probe)):
        return cls
    return cast(type[T], build)


def fast_copier(cls: type[T], changed: tuple[str, ...]) -> Callable[..., T]:
    """A function ``(record, *values of changed)`` -> a copy of a ``cls`` record with the fields
    ``changed`` given those values: what ``dataclasses.replace`` gives, at an eighth of its cost
    (for the decisions a rule makes alike for the copies of a copied trade).

    ``replace`` checks its arguments and goes through ``__init__`` by keyword, which stores each
    field of a frozen record through ``object.__setattr__`` or its slot's descriptor (a C call each,
    the bulk of the cost). The copy is filled instead with plain stores, as by ``fast_builder``.
    Checked here once per class; if anything differs, the copy is left to ``replace``, as is a
    record of a subclass of ``cls``."""

    def replaced(record: T, *values: Any) -> T:
        return cast(T, dataclasses.replace(cast(Any, record), **dict(zip(changed, values, strict=True))))

    names = _names(cls)
    stores = {name: name if name in changed else f"record.{name}" for name in names}
    guard = f"if type(record) is not _cls: return _replaced(record, {', '.join(changed)})"
    copy = _filler(cls, "copy", ["record", *changed], stores, {"_replaced": replaced}, guard)
    probe = cls(**{name: f"probe-{name}" for name in names})
    values = [f"changed-{name}" for name in changed]
    if not _builds_alike(lambda: copy(probe, *values), lambda: replaced(probe, *values)):
        return replaced
    return cast(Callable[..., T], copy)


def fast_maker(cls: type[T], order: tuple[str, ...] | None = None) -> Callable[..., T]:
    """A function ``(*values)`` -> a ``cls`` record with every field given, in field order (or in
    ``order``, every field named once): for rebuilding records sent as tuples of their values (a
    split replay's decisions), which a keyword-only ``__init__`` cannot take positionally. Filled
    as by ``fast_builder``."""
    names = list(order) if order is not None else _names(cls)
    if sorted(names) != sorted(_names(cls)):
        raise TypeError(f"fast_maker needs every field of {cls.__name__} once, not {names}")

    def by_keyword(*values: Any) -> T:
        return cls(**dict(zip(names, values, strict=True)))

    make = _filler(cls, "make", names, dict(zip(names, names, strict=True)), {})
    probe = [f"probe-{name}" for name in names]
    if not _builds_alike(lambda: make(*probe), lambda: by_keyword(*probe)):
        return by_keyword
    return cast(Callable[..., T], make)


def _names(cls: type) -> list[str]:
    return [f.name for f in dataclasses.fields(cast(Any, cls))]


def _parameters(cls: type, namespace: dict[str, Any]) -> list[str] | None:
    """The parameters of the dataclass ``cls``'s ``__init__`` (without self): the same names,
    order, defaults (put in ``namespace``) and keyword-only marker; None if a field is init=False or
    has a default factory, which a plain parameter list cannot express."""
    positional: list[str] = []
    keyword: list[str] = []
    for f in dataclasses.fields(cast(Any, cls)):
        if not f.init or f.default_factory is not dataclasses.MISSING:
            return None
        param = f.name
        if f.default is not dataclasses.MISSING:
            namespace[f"_default_{f.name}"] = f.default
            param += f"=_default_{f.name}"
        (keyword if f.kw_only else positional).append(param)
    return [*positional, *(["*", *keyword] if keyword else [])]


def _filler(
    cls: type,
    name: str,
    parameters: list[str],
    stores: dict[str, str],
    namespace: dict[str, Any],
    guard: str = "pass",
) -> Callable[..., Any]:
    """The function ``name(*parameters)`` that runs ``guard``, then makes a new object of a twin of
    ``cls`` (its slots on its bases, object's ``__setattr__`` and ``__delattr__``), stores each
    field's expression of ``stores`` into it, and makes it a ``cls``. The expressions may use the
    parameters and the names in ``namespace``."""
    twin = type(
        f"_{cls.__name__}Twin",
        cls.__bases__,
        {
            "__slots__": cls.__dict__["__slots__"],
            "__setattr__": object.__setattr__,
            "__delattr__": object.__delattr__,
        },
    )
    source = [
        f"def {name}({', '.join(parameters)}):",
        f"    {guard}",
        "    new = _new(_twin)",
        *(f"    new.{field} = {value}" for field, value in stores.items()),
        "    new.__class__ = _cls",
        "    return new",
    ]
    namespace.update({"_new": object.__new__, "_cls": cls, "_twin": twin})
    exec("\n".join(source) + "\n", namespace)  # the source is built from the record's field names
    function: Callable[..., Any] = namespace[name]
    function.__qualname__ = f"{cls.__qualname__}.{name}"
    return function


def _builds_alike(fast: Callable[[], object], plain: Callable[[], object]) -> bool:
    """Whether ``fast()`` gives what ``plain()`` gives: the same type, fields, equality and repr."""
    try:
        made = fast()
    except TypeError:  # the slot layouts differ after all
        return False
    expected = plain()
    return type(made) is type(expected) and made == expected and repr(made) == repr(expected)
