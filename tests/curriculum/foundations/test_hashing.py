"""Property-based tests: each fast solution against its brute-force oracle, on hypothesis data."""

import json

from hypothesis import assume, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from curriculum.cli import app
from curriculum.foundations.hashing import brute_force as slow
from curriculum.foundations.hashing import problems as fast
from curriculum.foundations.hashing.catalog import PROBLEMS

check = settings(max_examples=200, deadline=None, database=None)  # no .hypothesis/ in the repo

small_ints = st.lists(st.integers(-6, 6), max_size=25)
words = st.text(alphabet="abcde", max_size=6)
letters = st.text(alphabet="abcd", max_size=30)


@check
@given(small_ints)
def test_contains_duplicate(nums):
    assert fast.contains_duplicate(nums) == slow.contains_duplicate(nums)


@check
@given(letters, letters)
def test_valid_anagram(s, t):
    assert fast.valid_anagram(s, t) == slow.valid_anagram(s, t)


@check
@given(st.permutations("abcdabcd"))
def test_valid_anagram_accepts_every_permutation(letters_):
    assert fast.valid_anagram("abcdabcd", "".join(letters_))


@check
@given(small_ints, st.integers(-12, 12))
def test_two_sum(nums, target):
    got, want = fast.two_sum(nums, target), slow.two_sum(nums, target)
    assert (got is None) == (want is None)
    if got is not None:
        i, j = got
        assert i < j and nums[i] + nums[j] == target


@check
@given(st.lists(words, max_size=20))
def test_group_anagrams(word_list):
    def canonical(groups):
        return sorted(sorted(group) for group in groups)

    assert canonical(fast.group_anagrams(word_list)) == canonical(slow.group_anagrams(word_list))


@check
@given(st.lists(st.integers(0, 8), min_size=1, max_size=30), st.data())
def test_top_k_frequent(nums, data):
    k = data.draw(st.integers(1, len(set(nums))))
    got, want = fast.top_k_frequent(nums, k), slow.top_k_frequent(nums, k)
    assert len(got) == len(set(got)) == k
    assert sorted(map(nums.count, got)) == sorted(map(nums.count, want))  # ties either way


@check
@given(st.lists(st.integers(-4, 4), max_size=15))
def test_product_except_self(nums):
    assert fast.product_except_self(nums) == slow.product_except_self(nums)


@check
@given(st.lists(st.integers(-20, 20), max_size=30))
def test_longest_consecutive(nums):
    assert fast.longest_consecutive(nums) == slow.longest_consecutive(nums)


@check
@given(st.lists(st.text(max_size=8)))
def test_encode_decode_round_trip_any_text(strings):
    assert fast.decode_strings(fast.encode_strings(strings)) == strings


sudoku_boards = st.lists(
    st.lists(st.sampled_from(list(".........123456789")), min_size=9, max_size=9),
    min_size=9,
    max_size=9,
)


@check
@given(sudoku_boards)
def test_valid_sudoku(board):
    assert fast.valid_sudoku(board) == slow.valid_sudoku(board)


@check
@given(st.lists(st.integers(-3, 3), max_size=25), st.integers(-4, 4))
def test_subarray_sum_equals_k(nums, k):
    assert fast.subarray_sum_equals_k(nums, k) == slow.subarray_sum_equals_k(nums, k)


@check
@given(st.text(alphabet="abcdef", max_size=30))
def test_longest_substring_without_repeat(s):
    assert fast.longest_substring_without_repeat(s) == slow.longest_substring_without_repeat(s)


@check
@given(st.lists(st.integers(0, 4), min_size=1, max_size=25))
def test_majority_element(nums):
    assume(max(map(nums.count, nums)) > len(nums) // 2)  # the problem promises a majority
    assert fast.majority_element(nums) == slow.majority_element(nums)


@check
@given(st.lists(st.integers(-5, 30), max_size=30))
def test_first_missing_positive(nums):
    assert fast.first_missing_positive(nums) == slow.first_missing_positive(nums)


@check
@given(*[st.lists(st.integers(-3, 3), max_size=5)] * 4)
def test_four_sum_count(a, b, c, d):
    assert fast.four_sum_count(a, b, c, d) == slow.four_sum_count(a, b, c, d)


@check
@given(st.text(alphabet="abc", max_size=12), st.text(alphabet="xyz", max_size=12))
def test_isomorphic_strings(s, t):
    assert fast.isomorphic_strings(s, t) == slow.isomorphic_strings(s, t)
    assert fast.isomorphic_strings(s, s.translate(str.maketrans("abc", "zxy")))


@check
@given(st.text(alphabet="ab", max_size=8), st.lists(st.sampled_from(["dog", "cat"]), max_size=8))
def test_word_pattern(pattern, word_list):
    s = " ".join(word_list)
    assert fast.word_pattern(pattern, s) == slow.word_pattern(pattern, s)


@check
@given(st.integers(1, 10**12))
def test_happy_number(n):
    assert fast.happy_number(n) == slow.happy_number(n)


@check
@given(letters, letters)
def test_ransom_note(note, magazine):
    assert fast.ransom_note(note, magazine) == slow.ransom_note(note, magazine)


@check
@given(st.lists(st.integers(0, 6), max_size=15), st.lists(st.integers(0, 6), max_size=15))
def test_intersection_with_counts(a, b):
    assert fast.intersection_with_counts(a, b) == slow.intersection_with_counts(a, b)


@check
@given(st.text(alphabet="abc", max_size=20), st.text(alphabet="abcd", max_size=4))
def test_min_window(s, t):
    assert fast.min_window(s, t) == slow.min_window(s, t)


def test_twenty_problems_are_catalogued():
    assert len(PROBLEMS) == 20 and len({p.name for p in PROBLEMS}) == 20


def test_lesson_agrees_everywhere_and_writes_report(tmp_path):
    result = CliRunner().invoke(app, ["hashing", "--quick", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    results = json.loads((tmp_path / "results.json").read_text())
    assert all(r["agree"] == r["cases"] for r in results.values())
    assert (tmp_path / "scaling.png").stat().st_size > 10_000
    assert "| two sum | O(n) |" in (tmp_path / "report.md").read_text()
