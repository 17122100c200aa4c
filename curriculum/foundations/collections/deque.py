"""``deque`` from scratch: a growable ring buffer.

The items live in a Python list used as a circle: ``_head`` is the slot of the leftmost item
and item ``i`` sits at ``(_head + i) & mask``. Appending or popping at either end moves one
index, so both ends are O(1), and so is indexing (CPython's C deque, a linked list of 64-slot
blocks, is O(n / 64) there). The price is an O(n) copy when the buffer doubles, amortised O(1).
``maxlen`` turns it into a bounded ring buffer: a full deque drops an item at the far end.
"""

from __future__ import annotations

import operator
import sys
from collections.abc import Iterable, Iterator, MutableSequence
from reprlib import recursive_repr
from types import GenericAlias
from typing import Any

from curriculum.foundations.collections._state import user_state

_MIN_CAPACITY = 8  # a power of two, so ``& (capacity - 1)`` wraps an index round the circle
_STORAGE = frozenset({"_buf", "_head", "_size", "_maxlen", "_state"})


class deque:
    """deque(iterable=(), maxlen=None): a double-ended queue on a ring buffer."""

    # No __dict__, like the C deque; a subclass gets one unless it declares __slots__.
    __slots__ = ("__weakref__", "_buf", "_head", "_maxlen", "_size", "_state")

    def __new__(cls, *args: Any, **kwargs: Any) -> deque:
        # Storage is set up here, not in __init__, so a subclass that never calls
        # deque.__init__ still gets a working (empty) deque.
        self = super().__new__(cls)
        self._buf = [None] * _MIN_CAPACITY
        self._head = 0
        self._size = 0
        self._maxlen = None
        self._state = 0  # bumped by every change of length or order, so iterators notice
        return self

    def __init__(self, iterable: Iterable[Any] = (), maxlen: int | None = None) -> None:
        if maxlen is not None:
            maxlen = operator.index(maxlen)
            if maxlen < 0:
                raise ValueError("maxlen must be non-negative")
        self._maxlen = maxlen
        if self._size:
            self.clear()
        if iterable is not None:
            self.extend(iterable)

    @property
    def maxlen(self) -> int | None:
        """Maximum size of the deque, or None if unbounded."""
        return self._maxlen

    # -- the ring buffer ------------------------------------------------------------------------

    def _slot(self, i: int) -> int:
        """Buffer slot of item ``i`` (0 <= i < size)."""
        return (self._head + i) & (len(self._buf) - 1)

    def _items(self) -> list[Any]:
        """The items in order, as a new list (one or two slice copies, no Python loop)."""
        end = self._head + self._size
        if end <= len(self._buf):
            return self._buf[self._head : end]
        return self._buf[self._head :] + self._buf[: end - len(self._buf)]

    def _resize(self, capacity: int) -> None:
        items = self._items()
        self._buf = items + [None] * (capacity - len(items))
        self._head = 0

    def _checked_index(self, index: Any) -> int:
        i = operator.index(index)
        if i < 0:
            i += self._size
        if not 0 <= i < self._size:
            raise IndexError("deque index out of range")
        return i

    # -- both ends ------------------------------------------------------------------------------

    def append(self, x: Any) -> None:
        """Add an element to the right side of the deque."""
        if self._size == self._maxlen:
            if not self._maxlen:
                return
            self.popleft()  # full ring: the oldest item makes room
        if self._size == len(self._buf):
            self._resize(2 * len(self._buf))
        self._buf[self._slot(self._size)] = x
        self._size += 1
        self._state += 1

    def appendleft(self, x: Any) -> None:
        """Add an element to the left side of the deque."""
        if self._size == self._maxlen:
            if not self._maxlen:
                return
            self.pop()
        if self._size == len(self._buf):
            self._resize(2 * len(self._buf))
        self._head = (self._head - 1) & (len(self._buf) - 1)
        self._buf[self._head] = x
        self._size += 1
        self._state += 1

    def pop(self) -> Any:
        """Remove and return the rightmost element."""
        if not self._size:
            raise IndexError("pop from an empty deque")
        slot = self._slot(self._size - 1)
        item, self._buf[slot] = self._buf[slot], None  # drop our reference for the GC
        self._size -= 1
        self._state += 1
        return item

    def popleft(self) -> Any:
        """Remove and return the leftmost element."""
        if not self._size:
            raise IndexError("pop from an empty deque")
        item, self._buf[self._head] = self._buf[self._head], None
        self._head = (self._head + 1) & (len(self._buf) - 1)
        self._size -= 1
        self._state += 1
        return item

    def extend(self, iterable: Iterable[Any]) -> None:
        """Extend the right side of the deque with elements from the iterable."""
        if iterable is self:
            iterable = self._items()
        for x in iterable:  # consumed even when maxlen=0, as documented
            self.append(x)

    def extendleft(self, iterable: Iterable[Any]) -> None:
        """Extend the left side of the deque with elements from the iterable (reversing them)."""
        if iterable is self:
            iterable = self._items()
        for x in iterable:
            self.appendleft(x)

    def rotate(self, n: int = 1) -> None:
        """Rotate the deque n steps to the right (default n=1); left if n is negative."""
        n = operator.index(n)
        size = self._size
        if size <= 1:
            return
        n %= size
        if n > size // 2:
            n -= size  # the shorter way round
        mask = len(self._buf) - 1
        if size == len(self._buf):
            self._head = (self._head - n) & mask  # a full ring rotates by moving its start
        else:
            buf = self._buf
            for _ in range(n):  # right: the last item moves in front of the first
                tail = (self._head + size - 1) & mask
                self._head = (self._head - 1) & mask
                buf[self._head], buf[tail] = buf[tail], None
            for _ in range(-n):  # left: the first item moves behind the last
                buf[(self._head + size) & mask], buf[self._head] = buf[self._head], None
                self._head = (self._head + 1) & mask
        self._state += 1

    # -- the sequence protocol ------------------------------------------------------------------

    def __len__(self) -> int:
        return self._size

    def __getitem__(self, index: int) -> Any:
        return self._buf[self._slot(self._checked_index(index))]

    def __setitem__(self, index: int, value: Any) -> None:
        self._buf[self._slot(self._checked_index(index))] = value

    def __delitem__(self, index: int) -> None:
        i = self._checked_index(index)
        self.rotate(-i)  # bring the victim to the left end, drop it, turn back
        self.popleft()
        self.rotate(i)

    def insert(self, index: int, x: Any) -> None:
        """Insert x before index."""
        if self._size == self._maxlen:
            raise IndexError("deque already at its maximum size")
        i = operator.index(index)
        i = max(i + self._size, 0) if i < 0 else min(i, self._size)
        self.rotate(-i)
        self.appendleft(x)
        self.rotate(i)

    def _scan(self, value: Any, start: int, stop: int) -> int:
        """Index of the first item == value in [start, stop), or -1; raises if mutated meanwhile."""
        state = self._state
        for i in range(start, stop):
            item = self._buf[self._slot(i)]
            found = item is value or item == value
            if self._state != state:
                raise RuntimeError("deque mutated during iteration")
            if found:
                return i
        return -1

    def index(self, value: Any, start: int = 0, stop: int = sys.maxsize) -> int:
        """Return first index of value; raises ValueError if the value is not present."""
        start, stop, _ = slice(start, stop).indices(self._size)
        i = self._scan(value, start, stop)
        if i < 0:
            raise ValueError(f"{value!r} is not in deque")
        return i

    def __contains__(self, value: Any) -> bool:
        return self._scan(value, 0, self._size) >= 0

    def count(self, value: Any) -> int:
        """Return number of occurrences of value."""
        state, found = self._state, 0
        for i in range(self._size):
            item = self._buf[self._slot(i)]
            found += item is value or item == value
            if self._state != state:
                raise RuntimeError("deque mutated during iteration")
        return found

    def remove(self, value: Any) -> None:
        """Remove the first occurrence of value."""
        size = self._size
        try:
            i = self._scan(value, 0, size)
        except RuntimeError:
            if self._size != size:  # the comparison itself changed the deque
                raise IndexError("deque mutated during remove().") from None
            raise
        if i < 0:
            raise ValueError("deque.remove(x): x not in deque")
        del self[i]

    def reverse(self) -> None:
        """Reverse the elements of the deque in place."""
        items = self._items()
        items.reverse()
        self._buf[:] = items + [None] * (len(self._buf) - len(items))
        self._head = 0
        self._state += 1

    def clear(self) -> None:
        """Remove all elements from the deque."""
        self._buf = [None] * _MIN_CAPACITY
        self._head = 0
        self._size = 0
        self._state += 1

    def __iter__(self) -> Iterator[Any]:
        return _DequeIterator(self)

    def __reversed__(self) -> Iterator[Any]:
        return _DequeReverseIterator(self)

    # -- copies, operators, comparisons -----------------------------------------------------------

    def copy(self) -> deque:
        """Return a shallow copy of a deque."""
        args = (self._items(),) if self._maxlen is None else (self._items(), self._maxlen)
        new = type(self)(*args)
        if not isinstance(new, deque):
            raise TypeError(f"{type(self).__name__}() must return a deque, not {type(new)}")
        return new

    __copy__ = copy

    def __add__(self, other: Any) -> deque:
        if not isinstance(other, deque):
            raise TypeError(f'can only concatenate deque (not "{type(other).__name__}") to deque')
        new = self.copy()
        new.extend(other._items())
        return new

    def __iadd__(self, other: Iterable[Any]) -> deque:
        self.extend(other)
        return self

    def __mul__(self, n: int) -> deque:
        new = self.copy()
        new *= n
        return new

    __rmul__ = __mul__

    def __imul__(self, n: int) -> deque:
        n = operator.index(n)
        items = self._items()
        if n <= 0 or not items:
            self.clear()
            return self
        total = len(items) * n
        # A bounded deque keeps only the last maxlen items of the repetition: build just those.
        keep = total if self._maxlen is None else min(total, self._maxlen)
        repeated = [items[i % len(items)] for i in range(total - keep, total)]
        self.clear()
        self.extend(repeated)
        return self

    def _compare(self, other: Any, op: Any) -> Any:
        if not isinstance(other, deque):
            return NotImplemented
        # Lexicographic, exactly like lists: the first unequal pair decides, else the length.
        return op(self._items(), other._items())

    def __eq__(self, other: Any) -> Any:
        return self._compare(other, operator.eq)

    def __ne__(self, other: Any) -> Any:
        return self._compare(other, operator.ne)

    def __lt__(self, other: Any) -> Any:
        return self._compare(other, operator.lt)

    def __le__(self, other: Any) -> Any:
        return self._compare(other, operator.le)

    def __gt__(self, other: Any) -> Any:
        return self._compare(other, operator.gt)

    def __ge__(self, other: Any) -> Any:
        return self._compare(other, operator.ge)

    __hash__ = None  # mutable

    @recursive_repr("[...]")
    def __repr__(self) -> str:
        bound = "" if self._maxlen is None else f", maxlen={self._maxlen}"
        return f"{type(self).__name__}({self._items()!r}{bound})"

    def __reduce__(self) -> tuple[Any, ...]:
        # The items go as an iterator, so a deque that contains itself pickles (via the memo);
        # iter(self), so a subclass pickles what its own __iter__ yields.
        args = () if self._maxlen is None else ((), self._maxlen)
        return type(self), args, user_state(self, _STORAGE), iter(self)

    __class_getitem__ = classmethod(GenericAlias)


class _DequeIterator:
    """Walks a deque by index; fails as soon as the deque's length or order changes."""

    __slots__ = ("_deque", "_index", "_state")

    def __init__(self, deque_: deque, index: int = 0) -> None:
        self._deque = deque_
        self._state = deque_._state
        self._index = max(0, min(operator.index(index), len(deque_)))

    def __iter__(self) -> Iterator[Any]:
        return self

    def _position(self) -> int:
        return self._index

    def __next__(self) -> Any:
        if self._deque._state != self._state:
            raise RuntimeError("deque mutated during iteration")
        if self._index >= self._deque._size:
            raise StopIteration
        d = self._deque
        item = d._buf[d._slot(self._position())]
        self._index += 1
        return item

    def __length_hint__(self) -> int:
        return max(0, self._deque._size - self._index)

    def __reduce__(self) -> tuple[Any, ...]:
        return type(self), (self._deque, self._index)


class _DequeReverseIterator(_DequeIterator):
    __slots__ = ()

    def _position(self) -> int:
        return self._deque._size - 1 - self._index


MutableSequence.register(deque)
