"""A names data set from the plays: the proper nouns Shakespeare uses.

A word counts as a proper noun when it appears capitalized in the middle of a sentence
(after a lowercase word, comma or semicolon and a space) or as a word of a speaker tag, and
never appears in lowercase anywhere in the plays ("Hippolyta", "Milford", but not "Now" or
"Good"). About 1,900 names of people and places, lowercased, letters only.
"""

from __future__ import annotations

import functools
import random
import re

import torch

from curriculum.llm_internals import shakespeare

END = "."  # token 0 marks both the start (as context padding) and the end of a name
ALPHABET = END + "abcdefghijklmnopqrstuvwxyz"
STOI = {char: i for i, char in enumerate(ALPHABET)}


@functools.cache
def names() -> tuple[str, ...]:
    text = shakespeare.corpus()
    lowercase = set(re.findall(r"\b[a-z]+\b", text))
    mid_sentence = re.findall(r"(?<=[a-z,;] )([A-Z][a-z]+)\b", text)
    tagged = [word for tag in shakespeare.raw_speaker_tags() for word in tag.split()]
    found = {
        word.lower()
        for word in (*mid_sentence, *tagged)
        if word.isascii() and word.isalpha() and len(word) >= 3
    }
    return tuple(sorted(found - lowercase))


def split(seed: int = 42) -> tuple[list[str], list[str], list[str]]:
    """80% train, 10% validation, 10% test, shuffled with a fixed seed."""
    words = list(names())
    random.Random(seed).shuffle(words)  # noqa: S311 (a reproducible split, not a secret)
    a, b = int(0.8 * len(words)), int(0.9 * len(words))
    return words[:a], words[a:b], words[b:]


def examples(words: list[str], block: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(context of ``block`` previous characters, next character) for every position."""
    contexts, targets = [], []
    for word in words:
        context = [0] * block
        for char in word + END:
            contexts.append(context)
            targets.append(STOI[char])
            context = [*context[1:], STOI[char]]
    return torch.tensor(contexts), torch.tensor(targets)
