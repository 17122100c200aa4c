"""The oracles: obviously correct, slow versions of the twenty problems.

Each tries every candidate (pairs, subarrays, substrings...) the way one would by hand, so its
correctness can be checked by reading it; the fast versions are then tested against these.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from itertools import combinations, product
from math import prod


def contains_duplicate(nums: Sequence[Hashable]) -> bool:
    return any(a == b for a, b in combinations(nums, 2))


def valid_anagram(s: str, t: str) -> bool:
    return sorted(s) == sorted(t)


def two_sum(nums: Sequence[int], target: int) -> tuple[int, int] | None:
    for i, j in combinations(range(len(nums)), 2):
        if nums[i] + nums[j] == target:
            return i, j
    return None


def group_anagrams(words: Sequence[str]) -> list[list[str]]:
    groups: list[list[str]] = []
    for word in words:
        for group in groups:
            if sorted(group[0]) == sorted(word):
                group.append(word)
                break
        else:
            groups.append([word])
    return groups


def top_k_frequent(nums: Sequence[Hashable], k: int) -> list[Hashable]:
    distinct = list(dict.fromkeys(nums))
    return sorted(distinct, key=lambda x: -nums.count(x))[:k]


def product_except_self(nums: Sequence[int]) -> list[int]:
    return [prod(nums[:i]) * prod(nums[i + 1 :]) for i in range(len(nums))]


def longest_consecutive(nums: Sequence[int]) -> int:
    best = 0
    for x in nums:
        length = 1
        while x + length in nums:  # a list scan per step
            length += 1
        best = max(best, length)
    return best


def encode_decode(strings: Sequence[str]) -> list[str]:
    return list(strings)  # the round trip must give back exactly the input


def valid_sudoku(board: Sequence[Sequence[str]]) -> bool:
    rows = [list(row) for row in board]
    cols = [[board[r][c] for r in range(9)] for c in range(9)]
    boxes = [
        [board[r][c] for r in range(br, br + 3) for c in range(bc, bc + 3)]
        for br in range(0, 9, 3)
        for bc in range(0, 9, 3)
    ]
    for unit in rows + cols + boxes:
        digits = [v for v in unit if v != "."]
        if len(digits) != len(set(digits)):
            return False
    return True


def subarray_sum_equals_k(nums: Sequence[int], k: int) -> int:
    n = len(nums)
    return sum(sum(nums[i:j]) == k for i in range(n) for j in range(i + 1, n + 1))


def longest_substring_without_repeat(s: str) -> int:
    best = 0
    for i in range(len(s)):
        for j in range(i + 1, len(s) + 1):
            if len(set(s[i:j])) == j - i:
                best = max(best, j - i)
    return best


def majority_element(nums: Sequence[Hashable]) -> Hashable:
    return max(nums, key=nums.count)


def first_missing_positive(nums: Sequence[int]) -> int:
    candidate = 1
    while candidate in nums:
        candidate += 1
    return candidate


def four_sum_count(a: Sequence[int], b: Sequence[int], c: Sequence[int], d: Sequence[int]) -> int:
    return sum(w + x + y + z == 0 for w, x, y, z in product(a, b, c, d))


def isomorphic_strings(s: str, t: str) -> bool:
    # Same shape: position i's character first appears at the same index in both.
    return len(s) == len(t) and [s.index(ch) for ch in s] == [t.index(ch) for ch in t]


def word_pattern(pattern: str, s: str) -> bool:
    words = s.split()
    return len(words) == len(pattern) and [pattern.index(ch) for ch in pattern] == [
        words.index(w) for w in words
    ]


def happy_number(n: int, steps: int = 1000) -> bool:
    # Unhappy numbers fall into the cycle through 4 within a few dozen steps.
    for _ in range(steps):
        if n == 1:
            return True
        n = sum(int(d) ** 2 for d in str(n))
    return n == 1


def _covers(window: str, t: str) -> bool:
    """Can every character of t be matched to its own character of window?"""
    letters = list(window)
    for ch in t:
        if ch not in letters:
            return False
        letters.remove(ch)
    return True


def ransom_note(note: str, magazine: str) -> bool:
    return _covers(magazine, note)


def intersection_with_counts(a: Sequence[Hashable], b: Sequence[Hashable]) -> list[Hashable]:
    remaining = list(a)
    common = []
    for x in b:
        if x in remaining:
            remaining.remove(x)
            common.append(x)
    return common


def min_window(s: str, t: str) -> str:
    if not t:
        return ""
    for length in range(len(t), len(s) + 1):  # shortest first, then leftmost
        for start in range(len(s) - length + 1):
            if _covers(s[start : start + length], t):
                return s[start : start + length]
    return ""
