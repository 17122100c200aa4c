"""``defaultdict`` from scratch: ``dict.__missing__`` does all the work.

``dict.__getitem__`` calls ``__missing__(key)`` on a miss when a subclass defines it; ours
stores and returns ``default_factory()``. Only ``d[key]`` triggers it: ``get``, ``in`` and
``pop`` never create entries.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

_repr_running: set[int] = set()  # ids of defaultdicts whose repr is being built


class defaultdict(dict):
    """defaultdict(default_factory=None, /, [...]): a dict that makes missing values."""

    __slots__ = ("default_factory",)  # no per-instance __dict__, like the C type

    def __init__(self, default_factory: Callable[[], Any] | None = None, /, *args, **kwargs):
        if default_factory is not None and not callable(default_factory):
            raise TypeError("first argument must be callable or None")
        super().__init__(*args, **kwargs)
        self.default_factory = default_factory

    def __missing__(self, key: Any) -> Any:
        if self.default_factory is None:
            raise KeyError(key)
        value = self[key] = self.default_factory()
        return value

    def copy(self) -> defaultdict:
        """A shallow copy, with the same factory."""
        return type(self)(self.default_factory, self)

    __copy__ = copy

    def __reduce__(self) -> tuple[Any, ...]:
        args = () if self.default_factory is None else (self.default_factory,)
        return type(self), args, None, None, iter(self.items())

    def __repr__(self) -> str:
        # The factory may be a bound method of this very dict: show it as "..." the second time.
        if id(self) in _repr_running:
            factory = "..."
        else:
            _repr_running.add(id(self))
            try:
                factory = repr(self.default_factory)
            finally:
                _repr_running.discard(id(self))
        return f"{type(self).__name__}({factory}, {dict.__repr__(self)})"

    def __or__(self, other: Any) -> Any:
        if not isinstance(other, dict):
            return NotImplemented
        new = self.copy()
        new.update(other)
        return new

    def __ror__(self, other: Any) -> Any:
        if not isinstance(other, dict):
            return NotImplemented
        new = type(self)(self.default_factory, other)
        new.update(self)
        return new
