"""The scratch checkout (untrusted paths), hunk context, and `.ascent/review.toml` parsing."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from services.reviewer.analysis.checkout import checkout, safe_relpath, write_tree
from services.reviewer.analysis.context import enclosing_context, estimate_tokens
from services.reviewer.config import ReviewConfig, glob_match
from services.reviewer.model import FileChange, Severity


def head(path: str, text: str = "x = 1\n", status: str = "modified") -> FileChange:
    return FileChange(path=path, status=status, patch="@@ -0,0 +1 @@\n+x\n", head_text=text)  # type: ignore[arg-type]


# -- checkout --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    ["../etc/passwd", "/etc/passwd", "a/../../b.py", "a/./b.py", "a//b.py", "a\\b.py",
     "a\x00b.py", "", "..", "dir/"],
)  # fmt: skip
def test_unsafe_paths_are_refused(path: str) -> None:
    assert safe_relpath(path) is None


def test_safe_paths_pass() -> None:
    assert str(safe_relpath("src/pkg/mod.py")) == "src/pkg/mod.py"
    assert str(safe_relpath(".github/workflows/ci.yml")) == ".github/workflows/ci.yml"


def test_checkout_writes_head_contents_only_inside_its_folder(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    files = [
        head("src/app.py", "print('hi')\n"),
        head("../escape.py"),
        head("/abs.py"),
        head("deleted.py", status="removed"),
        FileChange(path="nohead.py", status="modified", patch="@@ -1 +1 @@\n-a\n+b\n"),
    ]
    with checkout(files) as tree:
        root = tree.root
        assert set(tree.files) == {"src/app.py"}
        assert tree.files["src/app.py"].read_text() == "print('hi')\n"
        assert tree.skipped == {"../escape.py": "unsafe path", "/abs.py": "unsafe path",
                                "nohead.py": "no head contents"}  # fmt: skip
        assert tree.repo_path(str(root / "src" / "app.py")) == "src/app.py"
        assert tree.repo_path("src/app.py") == "src/app.py"
        assert tree.repo_path("/etc/passwd") is None
        written = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
        assert written == ["src/app.py"]
    assert not root.exists()
    assert list(outside.iterdir()) == []


def test_checkout_never_writes_through_a_symlink(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    os.symlink(outside, root / "link")  # as if planted in the scratch folder
    tree = write_tree(root, [head("link/evil.py"), head("ok.py")])
    assert "link/evil.py" in tree.skipped
    assert list(outside.iterdir()) == []
    assert set(tree.files) == {"ok.py"}


# -- context ---------------------------------------------------------------------------------

PY = """\
import os


class Store:
    \"\"\"Keeps things.\"\"\"

    def __init__(self):
        self.items = {}

    def get(self, key):
        value = self.items.get(key)
        return value.strip()

    def put(self, key, value):
        self.items[key] = value


def helper():
    return os.getcwd()
"""


def test_python_context_is_the_enclosing_method() -> None:
    ctx = enclosing_context(PY, "store.py", 12, 12)
    assert ctx is not None
    assert "function `get` (lines 10-12)" in ctx.label
    assert [n for n, _ in ctx.lines] == [10, 11, 12]
    rendered = ctx.render(skip={12})
    assert "   10  |     def get(self, key):" in rendered and "value.strip()" not in rendered


def test_long_function_is_cut_to_budget_keeping_signature_and_change() -> None:
    body = "".join(f"    step_{n} = compute({n}, 'some argument text here')\n" for n in range(300))
    text = "def long_function(a, b):\n" + body + "    return a\n"
    ctx = enclosing_context(text, "long.py", 150, 151, max_tokens=200)
    assert ctx is not None and ctx.truncated
    numbers = [n for n, _ in ctx.lines]
    assert numbers[0] == 1 and 150 in numbers and 151 in numbers
    assert estimate_tokens(ctx.render()) <= 200 + 5  # the "..." markers
    assert "  ..." in ctx.render()


def test_other_languages_and_broken_python_get_a_window() -> None:
    js = "".join(f"const v{n} = {n};\n" for n in range(100))
    ctx = enclosing_context(js, "app.js", 50, 50, window=5)
    assert ctx is not None and [n for n, _ in ctx.lines] == list(range(45, 56))
    broken = "def f(:\n" + "x = 1\n" * 40
    ctx = enclosing_context(broken, "broken.py", 20, 20, window=3)
    assert ctx is not None and "around the change" in ctx.label
    assert enclosing_context(None, "x.py", 1, 1) is None


# -- config ----------------------------------------------------------------------------------


def test_config_defaults_and_full_file() -> None:
    default = ReviewConfig.from_toml(None)
    assert default == ReviewConfig() and default.errors == ()
    assert default.wants("llm") and default.reflection_threshold == 5.0
    config = ReviewConfig.from_toml(
        """
include = ["src/**", "*.py"]
exclude = ["src/vendor/**"]
severity_threshold = "medium"
analyzers = ["ruff", "llm"]
instructions = "We use SQLAlchemy; flag raw SQL."
language = "German"
reflection_threshold = 7
"""
    )
    assert config.errors == ()
    assert config.severity_threshold is Severity.MEDIUM
    assert config.analyzers == {"ruff", "llm"} and not config.wants("bandit")
    assert config.language == "German" and config.reflection_threshold == 7.0
    assert config.selects("src/app/models.py")
    assert config.selects("tools/x.py")  # "*.py" matches at any depth
    assert not config.selects("src/vendor/lib.py")
    assert not config.selects("README.md")


def test_config_errors_are_listed_and_defaults_kept() -> None:
    config = ReviewConfig.from_toml(
        """
severity_threshold = "severe"
analyzers = ["ruff", "pylint"]
reflection_threshold = 11
language = 3
colour = "blue"
include = "src/**"
"""
    )
    problems = "\n".join(config.errors)
    assert "severity_threshold: 'severe' is not a severity" in problems
    assert "unknown analyzer(s) ['pylint']" in problems
    assert "reflection_threshold: expected a number from 0 to 10" in problems
    assert "language:" in problems and "unknown key 'colour'" in problems
    assert len(config.errors) == 5
    assert config.severity_threshold is Severity.LOW  # defaults where a value was bad
    assert config.analyzers == ReviewConfig().analyzers
    assert config.reflection_threshold == 5.0
    assert config.include == ("src/**",)  # a single string is accepted as one glob


def test_invalid_toml_gives_defaults_and_one_clear_error() -> None:
    config = ReviewConfig.from_toml("severity_threshold = [unclosed")
    assert len(config.errors) == 1 and "not valid TOML" in config.errors[0]
    assert config.analyzers == ReviewConfig().analyzers


def test_instructions_are_bounded() -> None:
    config = ReviewConfig.from_toml(f'instructions = "{"a" * 5000}"')
    assert len(config.instructions) == 2000
    assert any("the rest was cut" in e for e in config.errors)


@pytest.mark.parametrize(
    ("glob", "path", "expected"),
    [
        ("**/*.py", "a/b/c.py", True), ("**/*.py", "c.py", True), ("src/*.py", "src/a/b.py", False),
        ("docs/", "docs/x/y.md", True), ("*.lock", "deep/poetry.lock", True),
        ("test_?.py", "test_a.py", True), ("[ab].py", "c.py", False),
    ],
)  # fmt: skip
def test_glob_semantics(glob: str, path: str, expected: bool) -> None:
    assert glob_match(glob, path) is expected
