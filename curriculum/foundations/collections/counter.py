"""``Counter`` from scratch: a dict of element -> count where a missing count reads as 0.

Counts may be zero or negative (``subtract`` makes them so); the multiset operators ``+ - | &``
and unary ``+ -`` keep only positive counts. Results list elements in the order the left
operand has them, then the right operand's new ones.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator, Mapping
from itertools import repeat
from operator import itemgetter
from typing import Any


class Counter(dict):
    """Dict subclass for counting hashable items."""

    def __init__(self, iterable: Iterable[Any] | Mapping[Any, int] | None = None, /, **kwds: int):
        super().__init__()
        self.update(iterable, **kwds)

    def __missing__(self, key: Any) -> int:
        return 0  # read as zero, but not stored: c['x'] does not add 'x'

    def total(self) -> int:
        """Sum of the counts."""
        return sum(self.values())

    def most_common(self, n: int | None = None) -> list[tuple[Any, int]]:
        """The n most common elements and their counts, most common first (ties: first seen)."""
        by_count = itemgetter(1)
        if n is None:
            return sorted(self.items(), key=by_count, reverse=True)  # stable: ties keep order
        return heapq.nlargest(n, self.items(), key=by_count)  # O(len * log n) for small n

    def elements(self) -> Iterator[Any]:
        """Each element repeated as many times as its count; counts below one are skipped."""
        for element, count in self.items():
            yield from repeat(element, count)

    @classmethod
    def fromkeys(cls, iterable: Iterable[Any], v: Any = None) -> Counter:
        # Every key with the same count makes no sense for a multiset: Counter(iterable) counts.
        raise NotImplementedError(
            "Counter.fromkeys() is undefined.  Use Counter(iterable) instead."
        )

    def update(self, iterable: Any = None, /, **kwds: int) -> None:
        """Add counts from an iterable of elements or a mapping of counts."""
        if iterable is not None:
            if isinstance(iterable, Mapping):
                if self:
                    for element, count in iterable.items():
                        self[element] = count + self.get(element, 0)
                else:
                    super().update(iterable)  # empty: a plain copy, done in C
            else:
                for element in iterable:
                    self[element] = self.get(element, 0) + 1
        if kwds:
            self.update(kwds)

    def subtract(self, iterable: Any = None, /, **kwds: int) -> None:
        """Subtract counts; unlike ``-``, counts may go to zero or below and stay."""
        if iterable is not None:
            if isinstance(iterable, Mapping):
                for element, count in iterable.items():
                    self[element] = self.get(element, 0) - count
            else:
                for element in iterable:
                    self[element] = self.get(element, 0) - 1
        if kwds:
            self.subtract(kwds)

    def copy(self) -> Counter:
        """A shallow copy, of the same class."""
        return self.__class__(self)

    def __reduce__(self) -> tuple[Any, ...]:
        return self.__class__, (dict(self),)

    def __delitem__(self, element: Any) -> None:
        if element in self:  # deleting a count that is not there is a no-op, as for a count 0
            super().__delitem__(element)

    def __repr__(self) -> str:
        if not self:
            return f"{self.__class__.__name__}()"
        try:
            shown = dict(self.most_common())
        except TypeError:  # counts that do not order (e.g. mixed types): insertion order
            shown = dict(self)
        return f"{self.__class__.__name__}({shown!r})"

    # -- multiset comparisons: a missing element has count 0 --------------------------------------

    def _all_counts(self, other: Counter, holds: Any) -> bool:
        return all(holds(self[e], other[e]) for e in {**self, **other})

    def __eq__(self, other: Any) -> Any:
        if not isinstance(other, Counter):
            return NotImplemented
        return self._all_counts(other, lambda a, b: a == b)

    def __ne__(self, other: Any) -> Any:
        if not isinstance(other, Counter):
            return NotImplemented
        return not self == other

    def __le__(self, other: Any) -> Any:
        if not isinstance(other, Counter):
            return NotImplemented
        return self._all_counts(other, lambda a, b: a <= b)

    def __lt__(self, other: Any) -> Any:
        if not isinstance(other, Counter):
            return NotImplemented
        return self <= other and self != other

    def __ge__(self, other: Any) -> Any:
        if not isinstance(other, Counter):
            return NotImplemented
        return self._all_counts(other, lambda a, b: a >= b)

    def __gt__(self, other: Any) -> Any:
        if not isinstance(other, Counter):
            return NotImplemented
        return self >= other and self != other

    # -- multiset arithmetic: results keep positive counts only -----------------------------------

    def _combine(self, other: Any, combine: Any) -> Any:
        if not isinstance(other, Counter):
            return NotImplemented
        result = Counter()
        for element in {**self, **other}:  # left operand's order, then the right's new ones
            count = combine(self[element], other[element])
            if count > 0:
                result[element] = count
        return result

    def __add__(self, other: Any) -> Any:
        return self._combine(other, lambda a, b: a + b)

    def __sub__(self, other: Any) -> Any:
        return self._combine(other, lambda a, b: a - b)

    def __or__(self, other: Any) -> Any:
        return self._combine(other, max)

    def __and__(self, other: Any) -> Any:
        return self._combine(other, min)

    def __pos__(self) -> Counter:
        return Counter({e: c for e, c in self.items() if c > 0})

    def __neg__(self) -> Counter:
        return Counter({e: -c for e, c in self.items() if c < 0})

    def _keep_positive(self) -> Counter:
        for element in [e for e, c in self.items() if not c > 0]:
            del self[element]
        return self

    def __iadd__(self, other: Counter) -> Counter:
        for element, count in other.items():
            self[element] += count
        return self._keep_positive()

    def __isub__(self, other: Counter) -> Counter:
        for element, count in other.items():
            self[element] -= count
        return self._keep_positive()

    def __ior__(self, other: Counter) -> Counter:
        for element, count in other.items():
            if count > self[element]:
                self[element] = count
        return self._keep_positive()

    def __iand__(self, other: Counter) -> Counter:
        for element, count in list(self.items()):
            if other[element] < count:
                self[element] = other[element]
        return self._keep_positive()
