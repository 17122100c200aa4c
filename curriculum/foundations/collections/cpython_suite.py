"""CPython's own ``collections`` tests, run against our classes.

The interpreter ships its regression tests as the ``test`` package. We execute a fresh copy of
``test_deque``, ``test_defaultdict`` and ``test_collections`` while ``sys.modules["collections"]``
is a stand-in module that hands out our classes, so ``from collections import deque`` in the
test source (and every subclass it defines at import time) binds ours. ``test_ordered_dict``
is written as a mixin that reads ``self.OrderedDict``; the test classes at the bottom of this
module plug ours into it, the way it plugs in the pure-Python and the C versions. No assertion
is changed or skipped by us.
"""

from __future__ import annotations

import collections
import importlib.util
import sys
import traceback
import unittest
import warnings
from dataclasses import dataclass, field
from types import ModuleType

from curriculum.foundations.collections import (
    Counter,
    OrderedDict,
    defaultdict,
    deque,
    namedtuple,
)

OURS = {
    "Counter": Counter,
    "OrderedDict": OrderedDict,
    "defaultdict": defaultdict,
    "deque": deque,
    "namedtuple": namedtuple,
}


def stand_in_collections() -> ModuleType:
    """A copy of the ``collections`` module with our five classes in place of the originals."""
    shim = ModuleType("collections", collections.__doc__)
    shim.__dict__.update(vars(collections))
    shim.__dict__.update(OURS)
    return shim


SHIM = stand_in_collections()


def load_with_ours(test_module: str) -> ModuleType:
    """Execute ``test.<test_module>`` afresh, importing from the stand-in ``collections``."""
    origin = importlib.util.find_spec(f"test.{test_module}").origin
    name = f"ours_{test_module}"  # registered, so pickle can find the classes it defines
    spec = importlib.util.spec_from_file_location(name, origin)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    real = sys.modules["collections"]
    sys.modules["collections"] = SHIM
    try:
        spec.loader.exec_module(module)
    finally:
        sys.modules["collections"] = real
    return module


# -- test_ordered_dict: our OrderedDict in its mixins, as it does for the pure-Python version ----

from test import test_ordered_dict as _od_tests  # noqa: E402 - after the stand-in is built


class OursOrderedDictTests(_od_tests.OrderedDictTests, unittest.TestCase):
    module = SHIM
    OrderedDict = OrderedDict


class OursOrderedDictSubclassTests(OursOrderedDictTests):
    class OrderedDict(OrderedDict):
        pass


class OursOrderedDictWithSlotsCopyingTests(unittest.TestCase):
    module = SHIM

    class OrderedDict(OrderedDict):
        __slots__ = ("x", "y")

    test_copying = _od_tests.OrderedDictTests.test_copying


class OursGeneralMappingTests(_od_tests.PurePythonGeneralMappingTests):
    @classmethod
    def setUpClass(cls) -> None:
        cls.type2test = OrderedDict


class OursSubclassMappingTests(_od_tests.PurePythonSubclassMappingTests):
    @classmethod
    def setUpClass(cls) -> None:
        class MyOrderedDict(OrderedDict):
            pass

        cls.type2test = MyOrderedDict


class OursSimpleLRUCacheTests(_od_tests.SimpleLRUCacheTests, unittest.TestCase):
    class type2test(_od_tests.SimpleLRUCache, OrderedDict):
        pass


def test_classes() -> list[tuple[str, type[unittest.TestCase]]]:
    """(suite, class) for every CPython test class that exercises our five classes."""
    deque_tests = load_with_ours("test_deque")
    defaultdict_tests = load_with_ours("test_defaultdict")
    collections_tests = load_with_ours("test_collections")
    classes = [
        ("test_deque", getattr(deque_tests, name))
        for name in (
            "TestBasic",
            "TestVariousIteratorArgs",
            "TestSubclass",
            "TestSubclassWithKwargs",
            "TestSequence",
        )
    ]
    classes.append(("test_defaultdict", defaultdict_tests.TestDefaultDict))
    classes += [
        ("test_collections", collections_tests.TestCounter),
        ("test_collections", collections_tests.TestNamedTuple),
    ]
    classes += [
        ("test_ordered_dict", cls)
        for cls in (
            OursOrderedDictTests,
            OursOrderedDictSubclassTests,
            OursOrderedDictWithSlotsCopyingTests,
            OursGeneralMappingTests,
            OursSubclassMappingTests,
            OursSimpleLRUCacheTests,
        )
    ]
    return classes


# -- running them ---------------------------------------------------------------------------------


@dataclass
class Outcome:
    test: str
    status: str  # "pass", "fail", "error" or "skip"
    message: str = ""


@dataclass
class ClassResult:
    suite: str
    test_class: str
    outcomes: list[Outcome] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(outcome.status == status for outcome in self.outcomes)


class _Tally(unittest.TestResult):
    """One outcome per test method; a failing subTest fails its method."""

    def __init__(self) -> None:
        super().__init__()
        self.outcomes: dict[str, Outcome] = {}

    def _set(self, test: unittest.TestCase, status: str, message: str = "") -> None:
        name = test.id().rsplit(".", 1)[-1] if hasattr(test, "_testMethodName") else str(test)
        previous = self.outcomes.get(name)
        if previous is None or previous.status == "pass":
            self.outcomes[name] = Outcome(name, status, message)

    def startTest(self, test: unittest.TestCase) -> None:
        super().startTest(test)
        self._set(test, "pass")

    def addFailure(self, test, err) -> None:
        self._set(test, "fail", _last_line(err))

    def addError(self, test, err) -> None:
        self._set(test, "error", _last_line(err))

    def addSkip(self, test, reason) -> None:
        self._set(test, "skip", reason)

    def addUnexpectedSuccess(self, test) -> None:
        self._set(test, "fail", "unexpected success")

    def addSubTest(self, test, subtest, err) -> None:
        if err is not None:
            failed = issubclass(err[0], test.failureException)
            self._set(test, "fail" if failed else "error", _last_line(err))


def _last_line(err) -> str:
    line = traceback.format_exception_only(err[0], err[1])[-1].strip()
    return line if len(line) <= 200 else line[:197] + "..."


def run_class(suite: str, cls: type[unittest.TestCase]) -> ClassResult:
    tally = _Tally()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        unittest.defaultTestLoader.loadTestsFromTestCase(cls).run(tally)
    outcomes = sorted(tally.outcomes.values(), key=lambda outcome: outcome.test)
    return ClassResult(suite, cls.__name__, outcomes)


def run_all() -> list[ClassResult]:
    return [run_class(suite, cls) for suite, cls in test_classes()]
