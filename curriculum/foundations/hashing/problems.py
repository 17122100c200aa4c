"""Twenty classic arrays & hashing problems, each in linear time (n = total input size).

The recurring trick: a dict or set turns "have I seen x?" / "how many x so far?" from an O(n)
scan into an O(1) lookup, so one pass replaces a nested loop. Each docstring states the
problem, the idea and the cost; ``brute_force.py`` holds the obviously correct slow versions.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence


def contains_duplicate(nums: Sequence[Hashable]) -> bool:
    """Does any value appear twice? Set of seen values. O(n) time, O(n) space."""
    seen = set()
    for x in nums:
        if x in seen:
            return True
        seen.add(x)
    return False


def valid_anagram(s: str, t: str) -> bool:
    """Is t a rearrangement of s? Count up over s, down over t. O(n) time, O(alphabet) space."""
    if len(s) != len(t):
        return False
    counts: dict[str, int] = {}
    for a, b in zip(s, t, strict=True):
        counts[a] = counts.get(a, 0) + 1
        counts[b] = counts.get(b, 0) - 1
    return not any(counts.values())


def two_sum(nums: Sequence[int], target: int) -> tuple[int, int] | None:
    """Indices i < j with nums[i] + nums[j] == target, or None.

    Remember each value's index; for each x look up target - x among earlier ones.
    O(n) time, O(n) space.
    """
    index_of: dict[int, int] = {}
    for j, x in enumerate(nums):
        i = index_of.get(target - x)
        if i is not None:
            return i, j
        index_of.setdefault(x, j)
    return None


def group_anagrams(words: Sequence[str]) -> list[list[str]]:
    """Group words that are anagrams of each other (lowercase a-z).

    Key each word by its 26 letter counts: equal keys <=> anagrams. Building a key is O(k) for a
    word of k letters, so O(total letters) time (sorting each word would be O(k log k)).
    """
    groups: dict[tuple[int, ...], list[str]] = {}
    for word in words:
        counts = [0] * 26
        for letter in word:
            counts[ord(letter) - 97] += 1
        groups.setdefault(tuple(counts), []).append(word)
    return list(groups.values())


def top_k_frequent(nums: Sequence[Hashable], k: int) -> list[Hashable]:
    """The k most frequent values, most frequent first.

    Count, then bucket values by count (a count is at most n): walking the buckets from the top
    is a counting sort, O(n) time and space, no O(n log n) sort.
    """
    counts: dict[Hashable, int] = {}
    for x in nums:
        counts[x] = counts.get(x, 0) + 1
    buckets: list[list[Hashable]] = [[] for _ in range(len(nums) + 1)]
    for x, count in counts.items():
        buckets[count].append(x)
    result: list[Hashable] = []
    for bucket in reversed(buckets):
        for x in bucket:
            if len(result) == k:
                return result
            result.append(x)
    return result


def product_except_self(nums: Sequence[int]) -> list[int]:
    """out[i] = product of all nums but nums[i], without division (zeros allowed).

    out[i] = (product of everything left of i) * (product of everything right of i): one
    pass each way. O(n) time, O(1) extra space besides the output.
    """
    out = [1] * len(nums)
    left = 1
    for i, x in enumerate(nums):
        out[i] = left
        left *= x
    right = 1
    for i in range(len(nums) - 1, -1, -1):
        out[i] *= right
        right *= nums[i]
    return out


def longest_consecutive(nums: Sequence[int]) -> int:
    """Length of the longest run of consecutive integers (in any order).

    Only start counting at x when x - 1 is absent, so each run is walked once. O(n) time.
    """
    values = set(nums)
    best = 0
    for x in values:
        if x - 1 not in values:
            end = x
            while end + 1 in values:
                end += 1
            best = max(best, end - x + 1)
    return best


def encode_strings(strings: Sequence[str]) -> str:
    """One string from many: each as "<length>#<text>", so any character may appear. O(n)."""
    return "".join(f"{len(s)}#{s}" for s in strings)


def decode_strings(encoded: str) -> list[str]:
    """Inverse of encode_strings: read the length up to "#", then exactly that many chars. O(n)."""
    strings, i = [], 0
    while i < len(encoded):
        hash_at = encoded.index("#", i)
        length = int(encoded[i:hash_at])
        strings.append(encoded[hash_at + 1 : hash_at + 1 + length])
        i = hash_at + 1 + length
    return strings


def valid_sudoku(board: Sequence[Sequence[str]]) -> bool:
    """Is a partly filled 9x9 board (digits or ".") free of repeats in rows, columns and boxes?

    One pass, with a set per row, column and 3x3 box. O(cells) time and space.
    """
    seen: set[tuple] = set()
    for r, row in enumerate(board):
        for c, value in enumerate(row):
            if value == ".":
                continue
            keys = (("row", r, value), ("col", c, value), ("box", r // 3, c // 3, value))
            if any(key in seen for key in keys):
                return False
            seen.update(keys)
    return True


def subarray_sum_equals_k(nums: Sequence[int], k: int) -> int:
    """How many contiguous subarrays sum to k (negatives allowed)?

    sum(nums[i:j]) = prefix[j] - prefix[i], so count earlier prefixes equal to prefix - k.
    O(n) time, O(n) space.
    """
    seen_prefixes = {0: 1}
    prefix = found = 0
    for x in nums:
        prefix += x
        found += seen_prefixes.get(prefix - k, 0)
        seen_prefixes[prefix] = seen_prefixes.get(prefix, 0) + 1
    return found


def longest_substring_without_repeat(s: str) -> int:
    """Length of the longest substring with all characters distinct.

    Sliding window: remember where each character was last seen; on a repeat inside the
    window, jump its left edge past that spot. O(n) time, O(alphabet) space.
    """
    last_seen: dict[str, int] = {}
    start = best = 0
    for i, ch in enumerate(s):
        if last_seen.get(ch, -1) >= start:
            start = last_seen[ch] + 1
        last_seen[ch] = i
        best = max(best, i - start + 1)
    return best


def majority_element(nums: Sequence[Hashable]) -> Hashable:
    """The value that fills more than half of nums (which must exist).

    Boyer-Moore voting: pair off different values; the majority survives. O(n), O(1) space.
    """
    candidate, votes = None, 0
    for x in nums:
        if votes == 0:
            candidate = x
        votes += 1 if x == candidate else -1
    return candidate


def first_missing_positive(nums: Sequence[int]) -> int:
    """Smallest positive integer absent from nums.

    The answer is in 1..n+1, so place each v in 1..n at index v - 1 by swaps (each swap puts
    one value home for good), then find the first index that is not home. O(n), O(1) extra
    space on a copy (the classic version works in place on its input).
    """
    a = list(nums)
    n = len(a)
    for i in range(n):
        while 1 <= a[i] <= n and a[a[i] - 1] != a[i]:
            home = a[i] - 1
            a[i], a[home] = a[home], a[i]
    for i, v in enumerate(a):
        if v != i + 1:
            return i + 1
    return n + 1


def four_sum_count(a: Sequence[int], b: Sequence[int], c: Sequence[int], d: Sequence[int]) -> int:
    """How many (i, j, k, l) with a[i] + b[j] + c[k] + d[l] == 0?

    Count the n^2 sums a + b, then look up -(c + d) for each of the n^2 other pairs:
    O(n^2) time and space instead of O(n^4) (n = length of each list; quadratic in the
    input, not linear, and no better method is known).
    """
    pair_sums: dict[int, int] = {}
    for x in a:
        for y in b:
            pair_sums[x + y] = pair_sums.get(x + y, 0) + 1
    return sum(pair_sums.get(-(z + w), 0) for z in c for w in d)


def isomorphic_strings(s: str, t: str) -> bool:
    """Can s be turned into t by a one-to-one mapping of characters?

    Map both ways; a clash in either direction breaks the bijection. O(n) time.
    """
    if len(s) != len(t):
        return False
    forward: dict[str, str] = {}
    backward: dict[str, str] = {}
    for a, b in zip(s, t, strict=True):
        if forward.setdefault(a, b) != b or backward.setdefault(b, a) != a:
            return False
    return True


def word_pattern(pattern: str, s: str) -> bool:
    """Does the space-separated s follow pattern ("abba" ~ "dog cat cat dog"), one-to-one?

    The same bijection check as isomorphic_strings, letters against words. O(n) time.
    """
    words = s.split()
    if len(words) != len(pattern):
        return False
    forward: dict[str, str] = {}
    backward: dict[str, str] = {}
    for letter, word in zip(pattern, words, strict=True):
        if forward.setdefault(letter, word) != word or backward.setdefault(word, letter) != letter:
            return False
    return True


def _digit_square_sum(n: int) -> int:
    return sum(int(d) ** 2 for d in str(n))


def happy_number(n: int) -> bool:
    """Does repeatedly summing the squares of n's digits reach 1?

    Otherwise the sequence cycles; a set of values seen detects the cycle. After one step a
    d-digit number is below 81 d, so all but the first step are on small numbers: O(d) time.
    """
    seen = set()
    while n != 1 and n not in seen:
        seen.add(n)
        n = _digit_square_sum(n)
    return n == 1


def ransom_note(note: str, magazine: str) -> bool:
    """Can note be cut out of magazine's letters (each used once)?

    Count the magazine's letters, spend them on the note. O(n + m) time, O(alphabet) space.
    """
    available: dict[str, int] = {}
    for ch in magazine:
        available[ch] = available.get(ch, 0) + 1
    for ch in note:
        if available.get(ch, 0) == 0:
            return False
        available[ch] -= 1
    return True


def intersection_with_counts(a: Sequence[Hashable], b: Sequence[Hashable]) -> list[Hashable]:
    """Values in both lists, each as often as it appears in both (in b's order).

    Count a, then take each value of b while a still has some. O(n + m) time.
    """
    counts: dict[Hashable, int] = {}
    for x in a:
        counts[x] = counts.get(x, 0) + 1
    common = []
    for x in b:
        if counts.get(x, 0) > 0:
            counts[x] -= 1
            common.append(x)
    return common


def min_window(s: str, t: str) -> str:
    """Shortest substring of s containing every character of t (with multiplicity), or "".

    Sliding window: grow the right edge until the window covers t ("missing" counts what is
    still needed), then shrink the left edge while it still covers. Each index enters and
    leaves once: O(|s| + |t|). Ties go to the leftmost window.
    """
    need: dict[str, int] = {}
    for ch in t:
        need[ch] = need.get(ch, 0) + 1
    missing = len(t)
    if not missing:
        return ""
    best_start, best_len = 0, len(s) + 1
    left = 0
    for right, ch in enumerate(s):
        if need.get(ch, 0) > 0:
            missing -= 1
        need[ch] = need.get(ch, 0) - 1  # negative: a surplus inside the window
        while missing == 0:
            if right - left + 1 < best_len:
                best_start, best_len = left, right - left + 1
            need[s[left]] += 1
            if need[s[left]] > 0:
                missing += 1
            left += 1
    return s[best_start : best_start + best_len] if best_len <= len(s) else ""
