"""``namedtuple`` from scratch: a factory of tuple subclasses with one descriptor per field.

``Point = namedtuple("Point", "x y")`` builds ``class Point(tuple)`` with ``__slots__ = ()``
(instances are exactly as small as tuples) and a read-only descriptor per field that returns
``self[i]``. The only generated source is ``__new__``: a function whose signature is the field
list, so ``Point(1, y=2)``, defaults, ``help()`` and the error messages all behave like a
hand-written class.
"""

from __future__ import annotations

import keyword
import sys
from collections.abc import Iterable
from typing import Any


class _Field:
    """Data descriptor: ``Point.x`` reads item ``index`` of the tuple; assignment is refused."""

    def __init__(self, index: int, doc: str) -> None:
        self.index = index
        self.__doc__ = doc

    def __get__(self, instance: Any, owner: type | None = None) -> Any:
        if instance is None:
            return self  # Point.x is the descriptor itself, for introspection
        return instance[self.index]

    def __set__(self, instance: Any, value: Any) -> None:
        raise AttributeError("can't set attribute")

    def __delete__(self, instance: Any) -> None:
        raise AttributeError("can't delete attribute")

    def __reduce__(self) -> tuple[Any, ...]:
        return type(self), (self.index, self.__doc__)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.index}, {self.__doc__!r})"


def _field_list(field_names: str | Iterable[str], rename: bool) -> tuple[str, ...]:
    if isinstance(field_names, str):
        field_names = field_names.replace(",", " ").split()
    names = [str(name) for name in field_names]
    seen: set[str] = set()
    for index, name in enumerate(names):
        invalid = (
            not name.isidentifier()
            or keyword.iskeyword(name)
            or name.startswith("_")
            or name in seen
        )
        if rename and invalid:
            names[index] = name = f"_{index}"
        seen.add(name)
    return tuple(names)


def _validate(typename: str, fields: tuple[str, ...], renamed: bool) -> None:
    for name in (typename, *fields):
        if not isinstance(name, str):
            raise TypeError("Type names and field names must be strings")
        if not name.isidentifier():
            raise ValueError(f"Type names and field names must be valid identifiers: {name!r}")
        if keyword.iskeyword(name):
            raise ValueError(f"Type names and field names cannot be a keyword: {name!r}")
    seen: set[str] = set()
    for name in fields:
        if name.startswith("_") and not renamed:  # "_0", "_1"... come from rename
            raise ValueError(f"Field names cannot start with an underscore: {name!r}")
        if name in seen:
            raise ValueError(f"Encountered duplicate field name: {name!r}")
        seen.add(name)


def _make_new(typename: str, fields: tuple[str, ...], defaults: tuple[Any, ...] | None):
    """``def __new__(_cls, x, y): return tuple.__new__(_cls, (x, y))``, compiled.

    exec is the one way to give a function a signature chosen at run time. Only validated
    identifiers reach the source, and it runs without builtins. Field names cannot start
    with "_", so ``_cls`` and ``_tuple_new`` never clash with them.
    """
    params = ", ".join(fields)
    values = "".join(f"{name}, " for name in fields)
    source = f"def __new__(_cls, {params}): return _tuple_new(_cls, ({values}))"
    namespace: dict[str, Any] = {"_tuple_new": tuple.__new__, "__builtins__": {}}
    exec(source, namespace)  # noqa: S102 - see the docstring
    new = namespace["__new__"]
    new.__defaults__ = defaults
    new.__doc__ = f"Create new instance of {typename}({params})"
    new.__qualname__ = f"{typename}.__new__"
    return new


def namedtuple(
    typename: str,
    field_names: str | Iterable[str],
    *,
    rename: bool = False,
    defaults: Iterable[Any] | None = None,
    module: str | None = None,
) -> type:
    """A new tuple subclass named ``typename`` whose items are also attributes."""
    fields = _field_list(field_names, rename)
    typename = sys.intern(str(typename))
    _validate(typename, fields, rename)
    if defaults is not None:
        defaults = tuple(defaults)
        if len(defaults) > len(fields):
            raise TypeError("Got more default values than field names")
    field_defaults = dict(
        zip(fields[len(fields) - len(defaults or ()) :], defaults or (), strict=True)
    )

    @classmethod
    def _make(cls, iterable: Iterable[Any]) -> Any:
        """Make a new object from a sequence or iterable."""
        result = tuple.__new__(cls, iterable)
        if len(result) != len(fields):
            raise TypeError(f"Expected {len(fields)} arguments, got {len(result)}")
        return result

    def _replace(self, /, **changes: Any) -> Any:
        """Return a new object replacing the named fields with new values."""
        values = [changes.pop(name, value) for name, value in zip(fields, self, strict=True)]
        if changes:
            raise ValueError(f"Got unexpected field names: {list(changes)!r}")
        return self._make(values)

    def __repr__(self) -> str:
        """Return a nicely formatted representation string."""
        shown = ", ".join(f"{name}={value!r}" for name, value in zip(fields, self, strict=True))
        return f"{self.__class__.__name__}({shown})"

    def _asdict(self) -> dict[str, Any]:
        """Return a new dict which maps field names to their values."""
        return dict(zip(self._fields, self, strict=True))

    def __getnewargs__(self) -> tuple[Any, ...]:
        """Return self as a plain tuple: what pickle and copy pass back to __new__."""
        return tuple(self)

    namespace: dict[str, Any] = {
        "__doc__": f"{typename}({', '.join(fields)})",
        "__slots__": (),
        "_fields": fields,
        "_field_defaults": field_defaults,
        "__new__": _make_new(typename, fields, defaults),
        "_make": _make,
        "_replace": _replace,
        "__repr__": __repr__,
        "_asdict": _asdict,
        "__getnewargs__": __getnewargs__,
        "__match_args__": fields,
    }
    for method in (_make.__func__, _replace, __repr__, _asdict, __getnewargs__):
        method.__qualname__ = f"{typename}.{method.__name__}"
    for index, name in enumerate(fields):
        # Interned: every namedtuple's field 0 shares one docstring object instead of a copy.
        namespace[name] = _Field(index, sys.intern(f"Alias for field number {index}"))
    cls = type(typename, (tuple,), namespace)

    # Pickle finds a class through its module: the caller's, unless told otherwise.
    if module is None:
        try:
            module = sys._getframe(1).f_globals.get("__name__", "__main__")
        except (AttributeError, ValueError):
            module = None
    if module is not None:
        cls.__module__ = module
    return cls
