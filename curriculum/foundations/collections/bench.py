"""Our collections against CPython's (C, or Python with C helpers), operation by operation.

Each case builds its input once, then times one call of the operation: the best of several
repeats, for ours and the stdlib's back to back, so the ratio ours / stdlib holds even when the
shared machine's speed drifts.
"""

from __future__ import annotations

import collections
import timeit
from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from curriculum.foundations import collections as ours

STDLIB = SimpleNamespace(**{name: getattr(collections, name) for name in ours.__all__})
OURS = SimpleNamespace(**{name: getattr(ours, name) for name in ours.__all__})

Setup = Callable[[Any, int], Callable[[], object]]  # (implementation, n) -> timed operation


@dataclass(frozen=True)
class Case:
    container: str
    operation: str
    setup: Setup


def _queue(impl: Any, n: int) -> Callable[[], object]:
    def run() -> None:
        d = impl.deque()
        for i in range(n):
            d.append(i)
        for _ in range(n):
            d.popleft()

    return run


def _ring_buffer(impl: Any, n: int) -> Callable[[], object]:
    def run() -> None:
        d = impl.deque(maxlen=100)
        for i in range(n):
            d.append(i)  # full after 100: each append drops the oldest

    return run


def _rotate(impl: Any, n: int) -> Callable[[], object]:
    d = impl.deque(range(1000))
    return lambda: [d.rotate(7) for _ in range(n // 10)]


def _index_middle(impl: Any, n: int) -> Callable[[], object]:
    d = impl.deque(range(n * 10))
    middle = len(d) // 2
    return lambda: [d[middle] for _ in range(n // 10)]


def _iterate(impl: Any, n: int) -> Callable[[], object]:
    d = impl.deque(range(n))
    return lambda: sum(d)


def _count_words(impl: Any, n: int) -> Callable[[], object]:
    words = [f"w{(i * i * 7919) % 500}" for i in range(n)]  # 500 distinct, uneven counts
    return lambda: impl.Counter(words)


def _most_common(impl: Any, n: int) -> Callable[[], object]:
    counts = impl.Counter({f"w{i}": (i * 7919) % 1000 for i in range(n)})
    return lambda: counts.most_common(10)


def _counter_add(impl: Any, n: int) -> Callable[[], object]:
    a = impl.Counter({i: i % 5 for i in range(n)})
    b = impl.Counter({i: i % 3 for i in range(0, 2 * n, 2)})
    return lambda: a + b


def _od_insert(impl: Any, n: int) -> Callable[[], object]:
    def run() -> None:
        od = impl.OrderedDict()
        for i in range(n):
            od[i] = i

    return run


def _od_lru(impl: Any, n: int) -> Callable[[], object]:
    def run() -> None:  # an LRU cache of 128 entries under a stream of n lookups
        cache = impl.OrderedDict()
        for i in range(n):
            key = (i * 31) % 300
            if key in cache:
                cache.move_to_end(key)
            else:
                cache[key] = i
                if len(cache) > 128:
                    cache.popitem(last=False)

    return run


def _od_iterate(impl: Any, n: int) -> Callable[[], object]:
    od = impl.OrderedDict.fromkeys(range(n))
    return lambda: list(od)


def _group(impl: Any, n: int) -> Callable[[], object]:
    pairs = [(i % 97, i) for i in range(n)]

    def run() -> None:
        groups = impl.defaultdict(list)
        for key, value in pairs:
            groups[key].append(value)

    return run


def _nt_class(impl: Any, n: int) -> Callable[[], object]:
    return lambda: [impl.namedtuple("Point", "x y z") for _ in range(max(1, n // 1000))]


def _nt_instances(impl: Any, n: int) -> Callable[[], object]:
    point = impl.namedtuple("Point", "x y z")
    return lambda: [point(i, i, i) for i in range(n)]


def _nt_attribute(impl: Any, n: int) -> Callable[[], object]:
    p = impl.namedtuple("Point", "x y z")(1, 2, 3)
    return lambda: [p.x for _ in range(n)]


CASES = (
    Case("deque", "append + popleft (queue)", _queue),
    Case("deque", "append at maxlen=100 (ring buffer)", _ring_buffer),
    Case("deque", "rotate(7), 1k items", _rotate),
    Case("deque", "d[middle], 10n items", _index_middle),
    Case("deque", "iterate (sum)", _iterate),
    Case("Counter", "count n words", _count_words),
    Case("Counter", "most_common(10)", _most_common),
    Case("Counter", "a + b", _counter_add),
    Case("OrderedDict", "insert n keys", _od_insert),
    Case("OrderedDict", "LRU: move_to_end / popitem", _od_lru),
    Case("OrderedDict", "iterate", _od_iterate),
    Case("defaultdict", "group n pairs (list factory)", _group),
    Case("namedtuple", "create class", _nt_class),
    Case("namedtuple", "create n instances", _nt_instances),
    Case("namedtuple", "attribute access p.x", _nt_attribute),
)


@dataclass(frozen=True)
class Timing:
    container: str
    operation: str
    ours_s: float
    stdlib_s: float

    @property
    def ratio(self) -> float:
        return self.ours_s / self.stdlib_s


def best_of(run: Callable[[], object], repeat: int) -> float:
    return min(timeit.repeat(run, number=1, repeat=repeat))


def time_case(case: Case, n: int, repeat: int = 5) -> Timing:
    ours_run, stdlib_run = case.setup(OURS, n), case.setup(STDLIB, n)
    ours_s = stdlib_s = float("inf")
    for _ in range(repeat):  # interleaved, so drift hits both sides alike
        ours_s = min(ours_s, timeit.timeit(ours_run, number=1))
        stdlib_s = min(stdlib_s, timeit.timeit(stdlib_run, number=1))
    return Timing(case.container, case.operation, ours_s, stdlib_s)


def index_cost(impl: Any, size: int, positions: int = 9, lookups: int = 2000) -> list[float]:
    """Seconds per ``d[i]`` at evenly spaced positions: flat for a ring buffer, a tent for C."""
    d = impl.deque(range(size))
    result = []
    for k in range(positions):
        i = k * (size - 1) // (positions - 1)
        result.append(best_of(lambda i=i: [d[i] for _ in range(lookups)], 3) / lookups)
    return result


# What the stdlib's version is made of (they all report __module__ "collections").
STDLIB_KIND = {
    "deque": "C (`_collections`)",
    "defaultdict": "C (`_collections`)",
    "OrderedDict": "C (`_collections`)",
    "Counter": "Python + C counting loop",
    "namedtuple": "Python + C `_tuplegetter`",
}
