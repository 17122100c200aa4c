"""Our collections: CPython's own suite, differential tests against the stdlib, the lesson."""

import collections
import json
import pickle

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from curriculum.cli import app
from curriculum.foundations.collections import (
    Counter,
    OrderedDict,
    defaultdict,
    deque,
    namedtuple,
)
from curriculum.foundations.collections.lesson import C_SPECIFIC


@pytest.fixture(scope="module")
def lesson_output(tmp_path_factory):
    """One quick run of `ascent learn collections` (CPython's suite included) for the module."""
    out = tmp_path_factory.mktemp("collections")
    result = CliRunner().invoke(app, ["collections", "--quick", "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


def test_cpython_suite_fails_only_on_c_specific_behaviour(lesson_output):
    classes = json.loads((lesson_output / "results.json").read_text())["cpython_tests"]
    failed = {test for counts in classes.values() for test in counts["failed"]}
    assert failed <= set(C_SPECIFIC), failed
    assert sum(counts["pass"] for counts in classes.values()) >= 255
    assert {name.split(".")[0] for name in classes} == {
        "test_deque",
        "test_defaultdict",
        "test_collections",
        "test_ordered_dict",
    }


deque_ops = st.lists(
    st.one_of(
        st.tuples(st.sampled_from(["append", "appendleft"]), st.integers()),
        st.tuples(st.sampled_from(["pop", "popleft", "reverse", "clear"])),
        st.tuples(st.just("rotate"), st.integers(-20, 20)),
        st.tuples(st.just("extend"), st.lists(st.integers(), max_size=12)),
        st.tuples(st.just("insert"), st.integers(-15, 15), st.integers()),
        st.tuples(st.just("delitem"), st.integers(-15, 15)),
    ),
    max_size=60,
)


def _apply(d, op):
    name, *args = op
    try:
        if name == "delitem":
            del d[args[0]]
        else:
            getattr(d, name)(*args)
    except IndexError as exc:
        return type(exc)
    return None


@settings(max_examples=150, deadline=None, database=None)  # no .hypothesis/ in the repo
@given(ops=deque_ops, maxlen=st.one_of(st.none(), st.integers(0, 9)))
def test_deque_matches_stdlib_under_random_operations(ops, maxlen):
    ours, theirs = deque(maxlen=maxlen), collections.deque(maxlen=maxlen)
    for op in ops:
        assert _apply(ours, op) == _apply(theirs, op), op
        assert list(ours) == list(theirs)
        assert list(reversed(ours)) == list(reversed(theirs))
    assert [ours[i] for i in range(len(ours))] == list(theirs)


def test_deque_grows_past_its_first_buffer_and_wraps_round():
    ours, theirs = deque(), collections.deque()
    for d in (ours, theirs):
        for i in range(100):  # our buffer doubles 8 -> 16 -> ... -> 256
            d.append(i)
            d.appendleft(-i)
        for _ in range(150):
            d.rotate(-3)
            d.popleft()
    assert len(ours) == 50 and list(ours) == list(theirs)


def test_ring_buffer_keeps_the_last_maxlen_items():
    d = deque(range(10), maxlen=3)
    d.append(10)
    assert list(d) == [8, 9, 10] and repr(d) == "deque([8, 9, 10], maxlen=3)"
    d.appendleft(7)
    assert list(d) == [7, 8, 9]


counts = st.dictionaries(st.sampled_from("abcdefg"), st.integers(-4, 6), max_size=7)


@settings(max_examples=150, deadline=None, database=None)  # no .hypothesis/ in the repo
@given(a=counts, b=counts)
def test_counter_arithmetic_matches_stdlib(a, b):
    ours_a, ours_b = Counter(a), Counter(b)
    std_a, std_b = collections.Counter(a), collections.Counter(b)
    for op in ("__add__", "__sub__", "__or__", "__and__"):
        ours, theirs = getattr(ours_a, op)(ours_b), getattr(std_a, op)(std_b)
        assert list(ours.items()) == list(theirs.items()), op  # same counts, same order
    for op in ("__le__", "__lt__", "__eq__", "__ge__", "__gt__"):
        assert getattr(ours_a, op)(ours_b) == getattr(std_a, op)(std_b), op
    assert dict(+ours_a) == dict(+std_a) and dict(-ours_a) == dict(-std_a)
    ours_a.subtract(ours_b)
    std_a.subtract(std_b)
    assert dict(ours_a) == dict(std_a)


def test_counter_most_common_and_update():
    c = Counter("abracadabra")
    assert c.most_common(2) == [("a", 5), ("b", 2)]
    assert c["z"] == 0 and "z" not in c
    c.update({"z": 3})
    c.subtract("zzzz")
    assert c["z"] == -1 and c.total() == 10


def test_ordered_dict_reorders_in_constant_time_operations():
    od = OrderedDict.fromkeys("abcde")
    od.move_to_end("b")
    od.move_to_end("d", last=False)
    assert list(od) == ["d", "a", "c", "e", "b"]
    assert od.popitem() == ("b", None) and od.popitem(last=False) == ("d", None)
    assert od != OrderedDict.fromkeys("eca") and od == dict.fromkeys("eca")
    assert list(pickle.loads(pickle.dumps(od))) == ["a", "c", "e"]


def test_defaultdict_creates_only_on_subscript():
    d = defaultdict(list)
    d["a"].append(1)
    assert d.get("b") is None and "b" not in d
    assert d == {"a": [1]} and repr(d) == "defaultdict(<class 'list'>, {'a': [1]})"


Point = namedtuple("Point", "x y", defaults=[0])  # module level, so pickle can find it


def test_namedtuple_is_a_tuple_with_named_fields():
    p = Point(1)
    assert p == (1, 0) and p.x == 1 and p._replace(y=5) == (1, 5)
    assert repr(p) == "Point(x=1, y=0)" and p._asdict() == {"x": 1, "y": 0}
    assert pickle.loads(pickle.dumps(p)) == p


def test_cli_writes_report_and_figures(lesson_output):
    report = (lesson_output / "report.md").read_text()
    assert "CPython's tests" in report and "ours / stdlib" in report
    for name in ("cpython_tests", "speed_ratio", "deque_index_cost"):
        assert (lesson_output / f"{name}.png").stat().st_size > 1000
    ratios = json.loads((lesson_output / "results.json").read_text())["ours_over_stdlib"]
    assert ratios["deque: d[middle], 10n items"] < 1  # O(1) ring buffer beats the block walk
