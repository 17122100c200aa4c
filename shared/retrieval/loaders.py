"""Loaders: files, records and git working trees → Documents.

Each loader raises ``BadInput`` (a ``ValueError`` naming the file and the reason) for input it
cannot use; ``load_paths`` turns those into ``LoadError`` rows so one bad file never stops a
batch. Texts are normalised to ``\\n`` line endings, so splitter offsets refer to that text.

The HTML loader writes headings as Markdown ATX lines (``## Install``) and ``<pre>`` blocks as
fenced code, so ``MarkdownHeaderSplitter`` (and its alias ``HTMLHeaderSplitter``) can split
HTML-derived Documents by their structure.
"""

from __future__ import annotations

import csv
import inspect
import io
import json
import logging
import os
import re
import subprocess
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from shared.retrieval.types import Document

logger = logging.getLogger(__name__)

MAX_BYTES = 50 * 1024 * 1024
MAX_SOURCE_FILE_BYTES = 1024 * 1024

StrPath = str | os.PathLike[str]


class BadInput(ValueError):
    """Input a loader cannot use; ``str()`` names the file and says why."""

    def __init__(self, path: StrPath, reason: str) -> None:
        super().__init__(f"{os.fspath(path)}: {reason}")
        self.path = os.fspath(path)
        self.reason = reason


@dataclass(frozen=True)
class LoadError:
    path: str
    reason: str


@dataclass
class LoadReport:
    documents: list[Document] = field(default_factory=list)
    errors: list[LoadError] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------
# Reading and decoding


def _read_bytes(path: Path, max_bytes: int) -> bytes:
    if not path.is_file():
        raise BadInput(path, "no such file" if not path.exists() else "not a regular file")
    size = path.stat().st_size
    if size > max_bytes:
        raise BadInput(path, f"file is {size} bytes, over the limit of {max_bytes} bytes")
    if size == 0:
        raise BadInput(path, "empty file")
    return path.read_bytes()


def _decode(path: Path, data: bytes, declared: str | None = None) -> str:
    if b"\0" in data:
        raise BadInput(path, "binary content (contains NUL bytes), not a text file")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        text = _decode_declared(data, declared)
        if text is None:
            raise BadInput(
                path, f"not UTF-8 text (invalid byte at offset {exc.start}); binary file?"
            ) from None
    # One newline convention, so offsets and header matching behave the same everywhere.
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        raise BadInput(path, "empty file (whitespace only)")
    return text


def _decode_declared(data: bytes, declared: str | None) -> str | None:
    if not declared:
        return None
    try:
        return data.decode(declared)
    except (LookupError, UnicodeDecodeError):
        return None


def _read_text(path: Path, max_bytes: int) -> str:
    return _decode(path, _read_bytes(path, max_bytes))


def _file_doc(
    path: Path,
    text: str,
    *,
    title: str,
    attributes: dict[str, Any],
    source: str | None,
    url: str | None,
    tenant: str | None,
) -> Document:
    return Document(
        source=source or path.as_posix(),
        text=text,
        title=title,
        url=url or path.resolve().as_uri(),
        attributes=attributes,
        tenant=tenant,
    )


# ---------------------------------------------------------------------------------------------
# Plain text and Markdown

_MD_H1 = re.compile(r"^# +(.+?)\s*#*\s*$")
_MD_FENCE = re.compile(r"^(```|~~~)")


def load_text(
    path: StrPath,
    *,
    tenant: str | None = None,
    source: str | None = None,
    url: str | None = None,
    title: str | None = None,
    max_bytes: int = MAX_BYTES,
) -> Document:
    path = Path(path)
    text = _read_text(path, max_bytes)
    return _file_doc(
        path, text, title=title or path.stem, attributes={"format": "text"},
        source=source, url=url, tenant=tenant,
    )  # fmt: skip


def markdown_title(text: str) -> str | None:
    """The first level-1 ATX heading outside code fences, if any."""
    in_fence = False
    for line in text.split("\n"):
        if _MD_FENCE.match(line):
            in_fence = not in_fence
        elif not in_fence and (match := _MD_H1.match(line)):
            return match.group(1)
    return None


def load_markdown(
    path: StrPath,
    *,
    tenant: str | None = None,
    source: str | None = None,
    url: str | None = None,
    title: str | None = None,
    max_bytes: int = MAX_BYTES,
) -> Document:
    path = Path(path)
    text = _read_text(path, max_bytes)
    return _file_doc(
        path, text, title=title or markdown_title(text) or path.stem,
        attributes={"format": "markdown"}, source=source, url=url, tenant=tenant,
    )  # fmt: skip


# ---------------------------------------------------------------------------------------------
# HTML

_DROP = ["script", "style", "noscript", "template", "head", "title", "nav", "aside", "svg",
         "iframe"]  # fmt: skip
_BLOCKS = ["p", "div", "section", "article", "main", "blockquote", "table", "ul", "ol",
           "dl", "dt", "dd", "figure", "figcaption", "form", "fieldset", "address", "details",
           "summary", "caption", "hr"]  # fmt: skip
_HEADINGS = ["h1", "h2", "h3", "h4", "h5", "h6"]
_PRE_MARK = "\x00pre{}\x00"  # NUL never survives _decode, so it cannot clash with page text


def _squash(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def html_to_text(markup: str) -> tuple[str, str]:
    """Readable text and title of an HTML page.

    Drops scripts, styles and page chrome (nav, aside, and header/footer outside an article);
    headings become ``#``-prefixed lines, ``<pre>`` becomes fenced code, list items ``- `` lines,
    and blocks are separated by blank lines. Title: ``<title>``, else the first ``<h1>``.
    """
    from bs4 import BeautifulSoup, NavigableString

    soup = BeautifulSoup(markup, "html.parser")
    title = _squash(soup.title.get_text()) if soup.title else ""
    for tag in soup.find_all(_DROP):
        tag.decompose()
    # A page's header/footer is chrome, but an article's own <header> often holds its <h1>.
    for tag in soup.find_all(["header", "footer"]):
        if not tag.find_parent(["article", "main"]):
            tag.decompose()
    if not title and (h1 := soup.find("h1")):
        title = _squash(h1.get_text())

    # HTML treats source newlines as spaces, except inside <pre>.
    for node in soup.find_all(string=True):
        if type(node) is NavigableString and not node.find_parent("pre"):
            node.replace_with(re.sub(r"\s+", " ", str(node)))
    pres: list[str] = []
    for pre in soup.find_all("pre"):
        pres.append(pre.get_text().strip("\n"))
        pre.replace_with(f"\n\n{_PRE_MARK.format(len(pres) - 1)}\n\n")
    for heading in soup.find_all(_HEADINGS):
        text = _squash(heading.get_text())
        level = int(heading.name[1])
        heading.replace_with(f"\n\n{'#' * level} {text}\n\n" if text else "\n\n")
    for br in soup.find_all("br"):
        br.replace_with("\n")
    for li in soup.find_all("li"):
        li.insert_before("\n- ")
    for row in soup.find_all("tr"):
        row.insert_before("\n")
    for cell in soup.find_all(["td", "th"]):
        cell.insert_after(" ")
    for block in soup.find_all(_BLOCKS):
        block.insert_before("\n\n")
        block.insert_after("\n\n")

    lines = [line.strip() for line in soup.get_text().split("\n")]
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
    for i, pre in enumerate(pres):
        text = text.replace(_PRE_MARK.format(i), f"```\n{pre}\n```" if pre.strip() else "")
    return re.sub(r"\n{3,}", "\n\n", text).strip(), title


def load_html(
    path: StrPath,
    *,
    tenant: str | None = None,
    source: str | None = None,
    url: str | None = None,
    title: str | None = None,
    max_bytes: int = MAX_BYTES,
) -> Document:
    from bs4.dammit import EncodingDetector

    path = Path(path)
    data = _read_bytes(path, max_bytes)
    declared = EncodingDetector.find_declared_encoding(data, is_html=True)
    text, found_title = html_to_text(_decode(path, data, declared))
    if not text:
        raise BadInput(path, "no readable text in the HTML")
    return _file_doc(
        path, text, title=title or found_title or path.stem, attributes={"format": "html"},
        source=source, url=url, tenant=tenant,
    )  # fmt: skip


# ---------------------------------------------------------------------------------------------
# PDF


def load_pdf(
    path: StrPath,
    *,
    tenant: str | None = None,
    source: str | None = None,
    url: str | None = None,
    title: str | None = None,
    max_bytes: int = MAX_BYTES,
) -> Document:
    from pypdf import PasswordType, PdfReader

    path = Path(path)
    data = _read_bytes(path, max_bytes)
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and reader.decrypt("") == PasswordType.NOT_DECRYPTED:
            raise BadInput(path, "encrypted PDF (needs a password)")
        pages = [(page.extract_text() or "").strip() for page in reader.pages]
        meta_title = (reader.metadata.title if reader.metadata else None) or ""
    except BadInput:
        raise
    except Exception as exc:  # pypdf raises many exception types on damaged files
        raise BadInput(path, f"not a readable PDF ({type(exc).__name__}: {exc})") from exc
    # Some fonts extract as NUL characters, which Postgres text columns reject.
    text = "\n\n".join(page for page in pages if page).replace("\0", "")
    if not text.strip():
        raise BadInput(path, f"no extractable text in {len(pages)} page(s) (scanned? needs OCR)")
    return _file_doc(
        path, text, title=title or str(meta_title).strip() or path.stem,
        attributes={"format": "pdf", "pages": len(pages)}, source=source, url=url, tenant=tenant,
    )  # fmt: skip


# ---------------------------------------------------------------------------------------------
# Records: CSV, JSON, JSON lines


@dataclass(frozen=True)
class _Fields:
    text: tuple[str, ...]
    id: str | None
    title: str | None
    url: str | None

    @property
    def used(self) -> set[str]:
        return {*self.text, *(f for f in (self.id, self.title, self.url) if f)}


def _fields(
    path: Path,
    text_fields: str | Sequence[str] | None,
    id_field: str | None,
    title_field: str | None,
    url_field: str | None,
) -> _Fields:
    if not text_fields:
        raise BadInput(path, "records need text_fields (the field(s) holding the text)")
    # A bare string is one field name, not a sequence of one-letter names.
    text = (text_fields,) if isinstance(text_fields, str) else tuple(text_fields)
    return _Fields(text, id_field, title_field, url_field)


def _value_text(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _records_to_docs(
    path: Path,
    records: Iterable[tuple[str, dict[str, Any]]],
    fields: _Fields,
    *,
    tenant: str | None,
) -> list[Document]:
    """``records`` yields (where, record); ``where`` is "line 3" or "record 2" for messages."""
    file_uri = path.resolve().as_uri()
    docs: list[Document] = []
    seen: dict[str, str] = {}
    count = 0
    for where, record in records:
        count += 1
        if fields.id:
            if _value_text(record.get(fields.id)).strip() == "":
                raise BadInput(path, f"{where}: no value in id field {fields.id!r}")
            source = _value_text(record[fields.id])
            if source in seen:
                raise BadInput(path, f"{where}: duplicate id {source!r} (first at {seen[source]})")
            seen[source] = where
        else:
            source = f"{path.as_posix()}#{where.replace(' ', '-')}"
        parts = [_value_text(record.get(name)).strip() for name in fields.text]
        # Records without text have nothing to retrieve; they are skipped, not failed.
        text = "\n\n".join(part for part in parts if part).replace("\0", "")
        if not text:
            continue
        url = _value_text(record.get(fields.url)) if fields.url else ""
        docs.append(
            Document(
                source=source,
                text=text,
                title=_value_text(record.get(fields.title)) if fields.title else "",
                url=url or f"{file_uri}#{where.replace(' ', '-')}",
                attributes={k: v for k, v in record.items() if k not in fields.used},
                tenant=tenant,
            )
        )
    if count == 0:
        raise BadInput(path, "no records")
    if not docs:
        raise BadInput(path, f"no record has text in field(s) {', '.join(fields.text)}")
    return docs


def load_csv(
    path: StrPath,
    *,
    text_fields: str | Sequence[str] | None = None,
    id_field: str | None = None,
    title_field: str | None = None,
    url_field: str | None = None,
    delimiter: str | None = None,
    tenant: str | None = None,
    max_bytes: int = MAX_BYTES,
) -> list[Document]:
    """One Document per row; the header row names the fields (``.tsv``: tab-separated)."""
    path = Path(path)
    fields = _fields(path, text_fields, id_field, title_field, url_field)
    text = _read_text(path, max_bytes)
    if delimiter is None:
        delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    reader = csv.reader(io.StringIO(text), delimiter=delimiter, strict=True)

    def rows() -> Iterable[tuple[str, dict[str, Any]]]:
        header: list[str] | None = None
        last_line = 0
        try:
            for row in reader:
                first_line, last_line = last_line + 1, reader.line_num
                if not row:
                    continue
                if header is None:
                    header = _csv_header(path, row, fields)
                    continue
                if len(row) != len(header):
                    raise BadInput(
                        path,
                        f"malformed CSV at line {first_line}: {len(row)} fields, "
                        f"header has {len(header)}",
                    )
                yield f"line {first_line}", dict(zip(header, row, strict=True))
        except csv.Error as exc:
            raise BadInput(path, f"malformed CSV at line {reader.line_num}: {exc}") from None

    return _records_to_docs(path, rows(), fields, tenant=tenant)


def _csv_header(path: Path, row: list[str], fields: _Fields) -> list[str]:
    header = [name.strip() for name in row]
    duplicates = sorted({name for name in header if header.count(name) > 1})
    if duplicates:
        raise BadInput(path, f"duplicate CSV column(s): {', '.join(duplicates)}")
    missing = [name for name in sorted(fields.used) if name not in header]
    if missing:
        raise BadInput(path, f"no column(s) {', '.join(missing)} (columns: {', '.join(header)})")
    return header


def _json_error(path: Path, exc: json.JSONDecodeError, line: int | None = None) -> BadInput:
    return BadInput(
        path, f"malformed JSON at line {line or exc.lineno}, column {exc.colno}: {exc.msg}"
    )


def load_json(
    path: StrPath,
    *,
    text_fields: str | Sequence[str] | None = None,
    id_field: str | None = None,
    title_field: str | None = None,
    url_field: str | None = None,
    tenant: str | None = None,
    max_bytes: int = MAX_BYTES,
) -> list[Document]:
    """A JSON array of objects (or one object): one Document per object."""
    path = Path(path)
    fields = _fields(path, text_fields, id_field, title_field, url_field)
    text = _read_text(path, max_bytes)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _json_error(path, exc) from None
    items = [data] if isinstance(data, dict) else data
    if not isinstance(items, list):
        raise BadInput(path, f"expected an array of objects, got {type(data).__name__}")

    def records() -> Iterable[tuple[str, dict[str, Any]]]:
        for index, item in enumerate(items):
            if not isinstance(item, dict):
                raise BadInput(path, f"record {index} is {type(item).__name__}, not an object")
            yield f"record {index}", item

    return _records_to_docs(path, records(), fields, tenant=tenant)


def load_jsonl(
    path: StrPath,
    *,
    text_fields: str | Sequence[str] | None = None,
    id_field: str | None = None,
    title_field: str | None = None,
    url_field: str | None = None,
    tenant: str | None = None,
    max_bytes: int = MAX_BYTES,
) -> list[Document]:
    """JSON lines: one object per line, blank lines ignored."""
    path = Path(path)
    fields = _fields(path, text_fields, id_field, title_field, url_field)
    text = _read_text(path, max_bytes)

    def records() -> Iterable[tuple[str, dict[str, Any]]]:
        for number, line in enumerate(text.split("\n"), start=1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
            except json.JSONDecodeError as exc:
                raise _json_error(path, exc, number) from None
            if not isinstance(item, dict):
                raise BadInput(path, f"line {number} is {type(item).__name__}, not an object")
            yield f"line {number}", item

    return _records_to_docs(path, records(), fields, tenant=tenant)


# ---------------------------------------------------------------------------------------------
# Git working trees

LANGUAGES = {
    ".py": "python", ".pyi": "python", ".js": "javascript", ".mjs": "javascript",
    ".cjs": "javascript", ".jsx": "javascript", ".ts": "typescript", ".tsx": "typescript",
    ".go": "go", ".rs": "rust", ".java": "java", ".kt": "kotlin", ".kts": "kotlin",
    ".scala": "scala", ".rb": "ruby", ".php": "php", ".c": "c", ".h": "c", ".cc": "cpp",
    ".cpp": "cpp", ".cxx": "cpp", ".hpp": "cpp", ".cs": "csharp", ".swift": "swift",
    ".m": "objective-c", ".sh": "shell", ".bash": "shell", ".zsh": "shell", ".ps1": "powershell",
    ".sql": "sql", ".html": "html", ".htm": "html", ".css": "css", ".scss": "scss",
    ".vue": "vue", ".svelte": "svelte", ".md": "markdown", ".rst": "rst", ".txt": "text",
    ".json": "json", ".yaml": "yaml", ".yml": "yaml", ".toml": "toml", ".ini": "ini",
    ".cfg": "ini", ".xml": "xml", ".proto": "protobuf", ".tf": "terraform", ".lua": "lua",
    ".r": "r", ".jl": "julia", ".ex": "elixir", ".exs": "elixir", ".erl": "erlang",
    ".hs": "haskell", ".ml": "ocaml", ".dart": "dart", ".j2": "jinja", ".jinja": "jinja",
}  # fmt: skip
_LANGUAGE_NAMES = {"Dockerfile": "dockerfile", "Makefile": "make", "CMakeLists.txt": "cmake"}
_VENDORED_DIRS = {"node_modules", "vendor", "vendored", "third_party", "third-party",
                  "bower_components", ".yarn", "site-packages", "Pods"}  # fmt: skip
_GENERATED_NAMES = {"package-lock.json", "yarn.lock", "pnpm-lock.yaml", "poetry.lock",
                    "uv.lock", "Cargo.lock", "composer.lock", "Gemfile.lock", "go.sum"}  # fmt: skip
_MINIFIED = re.compile(r"[.-]min\.(js|mjs|css)$|\.map$")


def language_of(path: str) -> str:
    name = path.rsplit("/", 1)[-1]
    if name in _LANGUAGE_NAMES:
        return _LANGUAGE_NAMES[name]
    suffix = os.path.splitext(name)[1].lower()
    return LANGUAGES.get(suffix, "text")


def _skip_reason(root: Path, rel: str, max_file_bytes: int) -> tuple[str | None, str]:
    """(reason to skip, text); reason is None when the file should be loaded."""
    parts = rel.split("/")
    if _VENDORED_DIRS.intersection(parts[:-1]) or parts[-1] in _GENERATED_NAMES:
        return "vendored or generated", ""
    if _MINIFIED.search(parts[-1]):
        return "minified", ""
    path = root / rel
    # Symlinks could point outside the repository; deleted files and submodules aren't files.
    if path.is_symlink() or not path.is_file():
        return "not a regular file", ""
    size = path.stat().st_size
    if size > max_file_bytes:
        return f"{size} bytes, over {max_file_bytes}", ""
    data = path.read_bytes()
    if b"\0" in data:
        return "binary", ""
    try:
        text = data.decode("utf-8-sig").replace("\r\n", "\n")
    except UnicodeDecodeError:
        return "not UTF-8", ""
    if not text.strip():
        return "empty", ""
    # Minified or generated code: very long lines on average.
    if len(text) > 2000 and len(text) / (text.count("\n") + 1) > 500:
        return "minified (very long lines)", ""
    return None, text


def load_git_tree(
    repo: StrPath,
    *,
    tenant: str | None = None,
    base_url: str | None = None,
    max_file_bytes: int = MAX_SOURCE_FILE_BYTES,
) -> list[Document]:
    """Text files of a git working tree: tracked plus untracked-but-not-ignored files.

    Skips binaries, vendored/generated/minified files, symlinks and files over
    ``max_file_bytes``. ``source`` and ``attributes["path"]`` are relative to ``repo``;
    ``url`` is ``base_url`` + path when given (e.g. a web view of the repository).
    """
    root = Path(repo)
    if not root.is_dir():
        raise BadInput(root, "not a directory")
    try:
        listed = subprocess.run(
            ["git", "-C", str(root), "ls-files", "-z", "--cached", "--others",
             "--exclude-standard"],
            capture_output=True, check=False, timeout=120,
        )  # fmt: skip
    except FileNotFoundError:
        raise BadInput(root, "git is not installed") from None
    except subprocess.TimeoutExpired:
        raise BadInput(root, "git ls-files timed out") from None
    if listed.returncode != 0:
        detail = listed.stderr.decode(errors="replace").strip()
        raise BadInput(root, f"not a git working tree ({detail})")
    # Unmerged files are listed once per stage.
    paths = dict.fromkeys(os.fsdecode(p) for p in listed.stdout.split(b"\0") if p)
    docs = []
    for rel in paths:
        reason, text = _skip_reason(root, rel, max_file_bytes)
        if reason:
            logger.debug("git tree %s: skipped %s (%s)", root, rel, reason)
            continue
        url = (
            f"{base_url.rstrip('/')}/{quote(rel)}" if base_url else (root / rel).resolve().as_uri()
        )
        docs.append(
            Document(
                source=rel,
                text=text,
                title=rel,
                url=url,
                attributes={"language": language_of(rel), "path": rel},
                tenant=tenant,
            )
        )
    return docs


# ---------------------------------------------------------------------------------------------
# Dispatch

Loader = Callable[..., Document | list[Document]]

EXTENSIONS: dict[str, Loader] = {
    ".txt": load_text, ".text": load_text, ".rst": load_text, ".log": load_text,
    ".md": load_markdown, ".markdown": load_markdown,
    ".html": load_html, ".htm": load_html, ".xhtml": load_html,
    ".pdf": load_pdf,
    ".csv": load_csv, ".tsv": load_csv,
    ".json": load_json, ".jsonl": load_jsonl, ".ndjson": load_jsonl,
}  # fmt: skip
CONTENT_TYPES: dict[str, Loader] = {
    "text/plain": load_text, "text/markdown": load_markdown, "text/x-markdown": load_markdown,
    "text/html": load_html, "application/xhtml+xml": load_html, "application/pdf": load_pdf,
    "text/csv": load_csv, "text/tab-separated-values": load_csv, "application/json": load_json,
    "application/jsonl": load_jsonl, "application/x-ndjson": load_jsonl,
}  # fmt: skip
_LOADERS: list[Loader] = [*dict.fromkeys([*EXTENSIONS.values(), load_git_tree])]
_OPTIONS = {
    loader: set(inspect.signature(loader).parameters) - {"path", "repo"} for loader in _LOADERS
}


def _check_options(options: dict[str, Any]) -> None:
    known = set().union(*_OPTIONS.values())
    unknown = sorted(set(options) - known)
    if unknown:
        raise TypeError(f"unknown loader option(s): {', '.join(unknown)}")


def load_path(
    path: StrPath, *, tenant: str | None = None, content_type: str | None = None, **options: Any
) -> list[Document]:
    """Load one file (by ``content_type`` if given, else by extension) or a git working tree.

    ``options`` go to the chosen loader, which ignores those meant for other loaders (so one
    set of options can serve a mixed batch); names no loader knows raise ``TypeError``.
    """
    _check_options(options)
    path = Path(path)
    if path.is_dir():
        loader: Loader = load_git_tree
    elif content_type:
        mime = content_type.split(";", 1)[0].strip().lower()
        if mime not in CONTENT_TYPES:
            raise BadInput(path, f"unsupported content type {mime!r}")
        loader = CONTENT_TYPES[mime]
    else:
        suffix = path.suffix.lower()
        if suffix not in EXTENSIONS:
            supported = ", ".join(sorted(EXTENSIONS))
            raise BadInput(
                path, f"unsupported extension {suffix or '(none)'!r} (supported: {supported})"
            )
        loader = EXTENSIONS[suffix]
    if loader is load_csv and content_type and "tab-separated" in content_type:
        options.setdefault("delimiter", "\t")
    accepted = {k: v for k, v in options.items() if k in _OPTIONS[loader]}
    loaded = loader(path, tenant=tenant, **accepted)
    return loaded if isinstance(loaded, list) else [loaded]


def load_paths(
    paths: Iterable[StrPath], *, tenant: str | None = None, **options: Any
) -> LoadReport:
    """Load many paths; each failure becomes a ``LoadError`` and the batch goes on."""
    _check_options(options)
    report = LoadReport()
    for path in paths:
        try:
            report.documents.extend(load_path(path, tenant=tenant, **options))
        except BadInput as exc:
            report.errors.append(LoadError(os.fspath(path), exc.reason))
        except OSError as exc:
            report.errors.append(LoadError(os.fspath(path), exc.strerror or str(exc)))
        except Exception as exc:  # a bug in one file's handling must not sink the batch
            logger.exception("loading %s failed", path)
            report.errors.append(LoadError(os.fspath(path), f"{type(exc).__name__}: {exc}"))
    return report
