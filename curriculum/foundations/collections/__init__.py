"""Week 1: ``collections`` re-implemented from scratch, checked by CPython's own test suite."""

from curriculum.foundations.collections.counter import Counter
from curriculum.foundations.collections.defaultdict import defaultdict
from curriculum.foundations.collections.deque import deque
from curriculum.foundations.collections.namedtuple import namedtuple
from curriculum.foundations.collections.ordered_dict import OrderedDict

__all__ = ["Counter", "OrderedDict", "defaultdict", "deque", "namedtuple"]
