"""The twenty problems as data: fast solution, oracle, costs and a random input of size n."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from curriculum.foundations.hashing import brute_force as slow
from curriculum.foundations.hashing import problems as fast

Args = tuple[Any, ...]


def _equal(args: Args, got: Any, want: Any) -> bool:
    return got == want


@dataclass(frozen=True)
class Problem:
    name: str
    solve: Callable[..., Any]
    oracle: Callable[..., Any]
    make_input: Callable[[random.Random, int], Args]  # an input of total size about n
    time: str
    space: str
    oracle_time: str
    agree: Callable[[Args, Any, Any], bool] = _equal  # when several answers are right
    # For timing: an input with no early exit (no duplicate, no pair...); default make_input.
    hard_input: Callable[[random.Random, int], Args] | None = None
    timed_oracle: bool = True  # False when the "oracle" does no work worth timing

    def check(self, args: Args) -> bool:
        return self.agree(args, self.solve(*args), self.oracle(*args))

    def timing_input(self, rng: random.Random, n: int) -> Args:
        return (self.hard_input or self.make_input)(rng, n)


def _ints(rng: random.Random, n: int, low: int, high: int) -> list[int]:
    return [rng.randint(low, high) for _ in range(n)]


def _letters(rng: random.Random, n: int, alphabet: str) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def _maybe_corrupt(rng: random.Random, text: str, alphabet: str) -> str:
    """Half the time, one character changed: so both answers (yes / no) get tested."""
    if not text or rng.random() < 0.5:
        return text
    i = rng.randrange(len(text))
    return text[:i] + rng.choice(alphabet) + text[i + 1 :]


# -- inputs ---------------------------------------------------------------------------------------


def _anagram_pair(rng: random.Random, n: int) -> Args:
    s = _letters(rng, n, "abcde")
    t = "".join(rng.sample(s, len(s)))
    return s, _maybe_corrupt(rng, t, "abcde")


def _two_sum_input(rng: random.Random, n: int) -> Args:
    nums = _ints(rng, n, -5 * n, 5 * n)
    if n >= 2 and rng.random() < 0.5:
        i, j = rng.sample(range(n), 2)
        return nums, nums[i] + nums[j]
    return nums, rng.randint(-10 * n, 10 * n)


def _anagram_words(rng: random.Random, n: int) -> Args:
    bases = [_letters(rng, rng.randint(1, 5), "abcde") for _ in range(max(1, n // 3))]
    return ([_shuffled(rng, rng.choice(bases)) for _ in range(n)],)


def _shuffled(rng: random.Random, word: str) -> str:
    return "".join(rng.sample(word, len(word)))


def _top_k_input(rng: random.Random, n: int) -> Args:
    nums = _ints(rng, n, 0, max(1, n // 4))
    return nums, rng.randint(1, max(1, len(set(nums))))


def _sudoku(rng: random.Random, n: int) -> Args:
    # A solved grid from the standard pattern, digits relabelled, then most cells blanked.
    digits = rng.sample("123456789", 9)
    board = [[digits[(3 * (r % 3) + r // 3 + c) % 9] for c in range(9)] for r in range(9)]
    for r in range(9):
        for c in range(9):
            if rng.random() < 0.6:
                board[r][c] = "."
    if rng.random() < 0.5:  # a random digit somewhere: often a conflict
        board[rng.randrange(9)][rng.randrange(9)] = rng.choice("123456789")
    return (board,)


def _majority_input(rng: random.Random, n: int) -> Args:
    n = max(n, 1)
    winner = rng.randint(0, 9)
    nums = [winner] * (n // 2 + 1) + _ints(rng, n - n // 2 - 1, 0, 9)
    rng.shuffle(nums)
    return (nums,)


def _bijection_pair(rng: random.Random, n: int) -> Args:
    s = _letters(rng, n, "abcd")
    if rng.random() < 0.5:
        image = dict(zip("abcd", rng.sample("wxyz", 4), strict=True))
        return s, "".join(image[ch] for ch in s)
    return s, _letters(rng, n, "wxyz")


def _pattern_pair(rng: random.Random, n: int) -> Args:
    pattern = _letters(rng, n, "abc")
    words = ["dog", "cat", "fish", "bird"]
    if rng.random() < 0.5:
        image = dict(zip("abc", rng.sample(words, 3), strict=True))
        return pattern, " ".join(image[ch] for ch in pattern)
    return pattern, " ".join(rng.choice(words) for _ in pattern)


def _four_lists(rng: random.Random, n: int) -> Args:
    m = max(1, n // 4)
    return tuple(_ints(rng, m, -m, m) for _ in range(4))


def _distinct(rng: random.Random, n: int) -> Args:
    return (rng.sample(range(3 * n), n),)


def _no_pair(rng: random.Random, n: int) -> Args:
    return [2 * x for x in _ints(rng, n, -n, n)], 1  # even numbers never sum to an odd target


def _permutation(rng: random.Random, n: int) -> Args:
    return (rng.sample(range(1, n + 1), n),)  # the answer is n + 1: the oracle scans n times


def _bijection(rng: random.Random, n: int) -> Args:
    s = _letters(rng, n, "abcd")
    return s, s.translate(str.maketrans("abcd", "wxyz"))  # true: no early clash to stop at


def _matching_pattern(rng: random.Random, n: int) -> Args:
    pattern = _letters(rng, n, "abc")
    words = {"a": "dog", "b": "cat", "c": "fish"}
    return pattern, " ".join(words[ch] for ch in pattern)


def _no_window(rng: random.Random, n: int) -> Args:
    return _letters(rng, n, "abcd"), "abce"  # no "e": every window must be tried


def _first_missing_input(rng: random.Random, n: int) -> Args:
    nums = rng.sample(range(1, n + 1), n)
    for _ in range(rng.randint(0, 3)):  # a few holes, duplicates or out-of-range values
        if nums:
            nums[rng.randrange(n)] = rng.randint(-2, n + 2)
    return (nums,)


# -- answers that may legitimately differ ---------------------------------------------------------


def _two_sum_agrees(args: Args, got: Any, want: Any) -> bool:
    nums, target = args
    if got is None or want is None:
        return got is want
    i, j = got
    return i != j and nums[i] + nums[j] == target


def _same_groups(args: Args, got: Any, want: Any) -> bool:
    return sorted(map(sorted, got)) == sorted(map(sorted, want))


def _top_k_agrees(args: Args, got: Any, want: Any) -> bool:
    # Ties at the k-th count may be broken either way: compare the counts, not the values.
    nums = args[0]
    return len(set(got)) == len(got) and sorted(map(nums.count, got)) == sorted(
        map(nums.count, want)
    )


PROBLEMS = (
    Problem(
        "contains duplicate",
        fast.contains_duplicate,
        slow.contains_duplicate,
        lambda rng, n: (_ints(rng, n, 0, 3 * n),),
        "O(n)",
        "O(n)",
        "O(n²)",
        hard_input=_distinct,
    ),
    Problem(
        "valid anagram",
        fast.valid_anagram,
        slow.valid_anagram,
        _anagram_pair,
        "O(n)",
        "O(1)",
        "O(n log n)",
    ),
    Problem(
        "two sum",
        fast.two_sum,
        slow.two_sum,
        _two_sum_input,
        "O(n)",
        "O(n)",
        "O(n²)",
        _two_sum_agrees,
        hard_input=_no_pair,
    ),
    Problem(
        "group anagrams",
        fast.group_anagrams,
        slow.group_anagrams,
        _anagram_words,
        "O(n)",
        "O(n)",
        "O(n · groups)",
        _same_groups,
    ),
    Problem(
        "top k frequent",
        fast.top_k_frequent,
        slow.top_k_frequent,
        _top_k_input,
        "O(n)",
        "O(n)",
        "O(n²)",
        _top_k_agrees,
    ),
    Problem(
        "product except self",
        fast.product_except_self,
        slow.product_except_self,
        lambda rng, n: (_ints(rng, n, -3, 3),),
        "O(n)",
        "O(1) + output",
        "O(n²)",
    ),
    Problem(
        "longest consecutive sequence",
        fast.longest_consecutive,
        slow.longest_consecutive,
        lambda rng, n: (_ints(rng, n, 0, 2 * n),),
        "O(n)",
        "O(n)",
        "O(n²)",
    ),
    Problem(
        "encode / decode strings",
        lambda strings: fast.decode_strings(fast.encode_strings(strings)),
        slow.encode_decode,
        lambda rng, n: ([_letters(rng, rng.randint(0, 5), "ab#1") for _ in range(n)],),
        "O(n)",
        "O(n)",
        "identity (round trip)",
        timed_oracle=False,
    ),
    Problem(
        "valid sudoku",
        fast.valid_sudoku,
        slow.valid_sudoku,
        _sudoku,
        "O(cells)",
        "O(cells)",
        "O(cells)",
    ),
    Problem(
        "subarray sum equals k",
        fast.subarray_sum_equals_k,
        slow.subarray_sum_equals_k,
        lambda rng, n: (_ints(rng, n, -3, 3), rng.randint(-3, 3)),
        "O(n)",
        "O(n)",
        "O(n³)",
    ),
    Problem(
        "longest substring without repeat",
        fast.longest_substring_without_repeat,
        slow.longest_substring_without_repeat,
        lambda rng, n: (_letters(rng, n, "abcdefghij"),),
        "O(n)",
        "O(alphabet)",
        "O(n³)",
    ),
    Problem(
        "majority element",
        fast.majority_element,
        slow.majority_element,
        _majority_input,
        "O(n)",
        "O(1)",
        "O(n²)",
    ),
    Problem(
        "first missing positive",
        fast.first_missing_positive,
        slow.first_missing_positive,
        _first_missing_input,
        "O(n)",
        "O(1) in place",
        "O(n²)",
        hard_input=_permutation,
    ),
    Problem(
        "4-sum count II",
        fast.four_sum_count,
        slow.four_sum_count,
        _four_lists,
        "O(m²), m = n/4",
        "O(m²)",
        "O(m⁴)",
    ),
    Problem(
        "isomorphic strings",
        fast.isomorphic_strings,
        slow.isomorphic_strings,
        _bijection_pair,
        "O(n)",
        "O(alphabet)",
        "O(n · alphabet)",
        hard_input=_bijection,
    ),
    Problem(
        "word pattern",
        fast.word_pattern,
        slow.word_pattern,
        _pattern_pair,
        "O(n)",
        "O(n)",
        "O(n · distinct words)",
        hard_input=_matching_pattern,
    ),
    Problem(
        "happy number",
        fast.happy_number,
        slow.happy_number,
        lambda rng, n: (rng.randint(1, 10 ** max(1, min(n, 4000))),),
        "O(digits)",
        "O(1)",
        "O(digits), fixed step cap",
    ),
    Problem(
        "ransom note",
        fast.ransom_note,
        slow.ransom_note,
        lambda rng, n: (_letters(rng, n // 4, "abcd"), _letters(rng, n, "abcd")),
        "O(n + m)",
        "O(alphabet)",
        "O(n · m)",
    ),
    Problem(
        "intersection with counts",
        fast.intersection_with_counts,
        slow.intersection_with_counts,
        lambda rng, n: (_ints(rng, n // 2, 0, n // 3), _ints(rng, n // 2, 0, n // 3)),
        "O(n + m)",
        "O(n)",
        "O(n · m)",
    ),
    Problem(
        "minimum window substring",
        fast.min_window,
        slow.min_window,
        lambda rng, n: (_letters(rng, n, "abcd"), _letters(rng, rng.randint(1, 4), "abcd")),
        "O(n + m)",
        "O(alphabet)",
        "O(n² · m)",
        hard_input=_no_window,
    ),
)
