"""``OrderedDict`` from scratch: a dict plus a circular doubly linked list of its keys.

A plain dict keeps insertion order too (since 3.7), but cannot move a key to the front in
O(1). Here the values stay in the dict (fast lookups, done in C) and the order lives in a
linked list with a sentinel ``_root``: ``_root.next`` is the first key, ``_root.prev`` the last.
``_links`` maps each key to its link, so ``move_to_end``, ``popitem`` and ``del`` are O(1).
"""

from __future__ import annotations

from collections.abc import ItemsView, Iterable, Iterator, KeysView, Mapping, ValuesView
from reprlib import recursive_repr
from typing import Any

from curriculum.foundations.collections._state import user_state

_STORAGE = frozenset({"_root", "_links", "_state"})
_MISSING = object()


class _Link:
    __slots__ = ("key", "next", "prev")


class OrderedDict(dict):
    """Dictionary that remembers insertion order and can reorder its keys in O(1)."""

    # Our storage in slots, so __dict__ holds only what users add (and __reduce__ stays lean).
    __slots__ = ("__dict__", "__weakref__", "_links", "_root", "_state")

    def __new__(cls, *args: Any, **kwargs: Any) -> OrderedDict:
        self = super().__new__(cls)
        root = self._root = _Link()
        root.prev = root.next = root
        self._links = {}
        self._state = 0  # bumped on every insert, delete or move, so iterators notice
        return self

    def __init__(self, other: Any = (), /, **kwds: Any) -> None:
        self._insert_all(other, kwds)  # not self.update: a subclass may override that

    # -- the linked list -------------------------------------------------------------------------

    def _link_last(self, link: _Link) -> None:
        root = self._root
        link.prev, link.next = root.prev, root
        root.prev.next = root.prev = link

    def _link_first(self, link: _Link) -> None:
        root = self._root
        link.prev, link.next = root, root.next
        root.next.prev = root.next = link

    def _unlink(self, key: Any) -> None:
        link = self._links.pop(key)
        link.prev.next, link.next.prev = link.next, link.prev
        link.prev = link.next = None  # a live iterator standing on it stops, not wanders
        self._state += 1

    def _walk(self, reverse: bool = False) -> Iterator[Any]:
        state, root = self._state, self._root
        link = root.prev if reverse else root.next
        while link is not root:
            yield link.key
            if self._state != state:
                raise RuntimeError("OrderedDict mutated during iteration")
            link = link.prev if reverse else link.next

    # -- the mapping protocol --------------------------------------------------------------------

    def __setitem__(self, key: Any, value: Any) -> None:
        if key not in self:
            link = _Link()
            link.key = key
            self._link_last(link)
            self._links[key] = link
            self._state += 1
        dict.__setitem__(self, key, value)

    def __delitem__(self, key: Any) -> None:
        dict.__delitem__(self, key)
        self._unlink(key)

    def __iter__(self) -> Iterator[Any]:
        return self._walk()

    def __reversed__(self) -> Iterator[Any]:
        return self._walk(reverse=True)

    def clear(self) -> None:
        """Remove all items."""
        dict.clear(self)
        root = self._root
        for link in self._links.values():
            link.prev = link.next = None
        root.prev = root.next = root
        self._links.clear()
        self._state += 1

    def update(self, other: Any = (), /, **kwds: Any) -> None:
        """Insert or overwrite from a mapping, an object with keys(), or (key, value) pairs."""
        self._insert_all(other, kwds)

    def _insert_all(self, other: Any, kwds: dict[str, Any]) -> None:
        # dict.update would bypass __setitem__ and so the linked list.
        if isinstance(other, Mapping):
            for key in other:
                self[key] = other[key]
        elif hasattr(other, "keys"):
            for key in other.keys():  # noqa: SIM118 - such objects promise keys(), not iter
                self[key] = other[key]
        else:
            for key, value in other:
                self[key] = value
        for key, value in kwds.items():
            self[key] = value

    def pop(self, key: Any, default: Any = _MISSING) -> Any:
        """Remove key and return its value, or default if given and key is missing."""
        if key in self:
            value = dict.pop(self, key)
            self._unlink(key)
            return value
        if default is _MISSING:
            raise KeyError(key)
        return default

    def setdefault(self, key: Any, default: Any = None) -> Any:
        """Insert key with a value of default if key is not in the dictionary."""
        if key in self:
            return self[key]
        self[key] = default
        return default

    def popitem(self, last: bool = True) -> tuple[Any, Any]:
        """Remove and return a (key, value) pair: LIFO if last is true, else FIFO."""
        if not self:
            raise KeyError("dictionary is empty")
        key = (self._root.prev if last else self._root.next).key
        value = dict.pop(self, key)
        self._unlink(key)
        return key, value

    def move_to_end(self, key: Any, last: bool = True) -> None:
        """Move an existing key to the end (or the beginning if last is false): O(1)."""
        link = self._links[key]
        link.prev.next, link.next.prev = link.next, link.prev
        if last:
            self._link_last(link)
        else:
            self._link_first(link)
        self._state += 1

    def keys(self) -> KeysView:
        """A set-like view of the keys, in order."""
        return _OrderedKeys(self)

    def values(self) -> ValuesView:
        """A view of the values, in key order."""
        return _OrderedValues(self)

    def items(self) -> ItemsView:
        """A set-like view of the (key, value) pairs, in order."""
        return _OrderedItems(self)

    @classmethod
    def fromkeys(cls, iterable: Iterable[Any], value: Any = None) -> OrderedDict:
        """A new ordered dictionary with keys from iterable and values equal to value."""
        new = cls()
        for key in iterable:
            new[key] = value
        return new

    def copy(self) -> OrderedDict:
        """A shallow copy, of the same class."""
        return type(self)(self)

    def __reduce__(self) -> tuple[Any, ...]:
        return type(self), (), user_state(self, _STORAGE), None, iter(self.items())

    # -- order-sensitive equality, ordered repr and the | operators ------------------------------

    def __eq__(self, other: Any) -> Any:
        same = dict.__eq__(self, other)
        if same is NotImplemented or not isinstance(other, OrderedDict):
            return same
        return same and list(self) == list(other)  # two OrderedDicts: order matters too

    def __ne__(self, other: Any) -> Any:
        same = self.__eq__(other)
        return same if same is NotImplemented else not same

    __hash__ = None

    @recursive_repr()
    def __repr__(self) -> str:
        if not self:
            return f"{type(self).__name__}()"
        return f"{type(self).__name__}({list(self.items())!r})"

    def __ior__(self, other: Any) -> OrderedDict:
        self.update(other)
        return self

    def __or__(self, other: Any) -> Any:
        if not isinstance(other, dict):
            return NotImplemented
        new = type(self)(self)
        new.update(other)
        return new

    def __ror__(self, other: Any) -> Any:
        if not isinstance(other, dict):
            return NotImplemented
        new = type(self)(other)
        new.update(self)
        return new

    def __sizeof__(self) -> int:
        links = len(self._links) * _Link.__basicsize__
        return dict.__sizeof__(self) + self._links.__sizeof__() + links


class _OrderedKeys(KeysView):
    def __reversed__(self) -> Iterator[Any]:
        return reversed(self._mapping)


class _OrderedValues(ValuesView):
    def __reversed__(self) -> Iterator[Any]:
        return (self._mapping[key] for key in reversed(self._mapping))


class _OrderedItems(ItemsView):
    def __reversed__(self) -> Iterator[tuple[Any, Any]]:
        return ((key, self._mapping[key]) for key in reversed(self._mapping))
