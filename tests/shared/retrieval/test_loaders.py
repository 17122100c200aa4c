"""Loaders against real small files written to tmp_path (and a real git repository)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from shared.retrieval.loaders import (
    BadInput,
    LoadError,
    html_to_text,
    load_csv,
    load_git_tree,
    load_html,
    load_json,
    load_jsonl,
    load_markdown,
    load_path,
    load_paths,
    load_pdf,
    load_text,
)


def make_pdf(pages: list[str], title: str | None = None) -> bytes:
    """A minimal valid PDF: one Helvetica text line per page (empty string: a blank page)."""
    page_ids = [4 + 2 * i for i in range(len(pages))]
    kids = " ".join(f"{i} 0 R" for i in page_ids)
    objects = {
        1: b"<< /Type /Catalog /Pages 2 0 R >>",
        2: f"<< /Type /Pages /Kids [{kids}] /Count {len(pages)} >>".encode(),
        3: b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    }
    for page_id, text in zip(page_ids, pages, strict=True):
        stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode() if text else b""
        objects[page_id] = (
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            b"/Resources << /Font << /F1 3 0 R >> >> /Contents %d 0 R >>" % (page_id + 1)
        )
        objects[page_id + 1] = b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream)
    info = None
    if title:
        info = max(objects) + 1
        objects[info] = f"<< /Title ({title}) >>".encode()
    out = bytearray(b"%PDF-1.4\n")
    offsets = {}
    for number in sorted(objects):
        offsets[number] = len(out)
        out += b"%d 0 obj\n%s\nendobj\n" % (number, objects[number])
    xref = len(out)
    size = max(objects) + 1
    out += b"xref\n0 %d\n0000000000 65535 f \n" % size
    for number in range(1, size):
        out += b"%010d 00000 n \n" % offsets[number]
    trailer = f"<< /Size {size} /Root 1 0 R" + (f" /Info {info} 0 R" if info else "") + " >>"
    out += b"trailer\n%s\nstartxref\n%d\n%%%%EOF\n" % (trailer.encode(), xref)
    return bytes(out)


def write(path: Path, content: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8", newline="")
    return path


# --- plain text and Markdown --------------------------------------------------------------------


def test_load_text(tmp_path: Path) -> None:
    path = write(tmp_path / "install-notes.txt", "First line.\r\nSecond line.\r\n")
    doc = load_text(path, tenant="acme")
    assert doc.text == "First line.\nSecond line.\n"
    assert doc.source == path.as_posix()
    assert doc.title == "install-notes"
    assert doc.url == path.resolve().as_uri() and doc.url.startswith("file:///")
    assert doc.tenant == "acme"
    assert doc.attributes == {"format": "text"}


def test_load_text_given_url_and_source(tmp_path: Path) -> None:
    path = write(tmp_path / "a.txt", "hello")
    doc = load_text(path, source="kb/a", url="https://example.com/a", title="A")
    assert (doc.source, doc.url, doc.title) == ("kb/a", "https://example.com/a", "A")


def test_load_markdown_title_is_first_h1_outside_code(tmp_path: Path) -> None:
    text = "```sh\n# not the title\n```\n\nIntro.\n\n# Real Title\n\n## Sub\n"
    doc = load_markdown(write(tmp_path / "guide.md", text))
    assert doc.title == "Real Title"
    assert doc.text == text
    assert doc.attributes == {"format": "markdown"}
    assert load_markdown(write(tmp_path / "plain.md", "no heading here")).title == "plain"


# --- HTML ---------------------------------------------------------------------------------------

PAGE = """<!doctype html><html><head><title>Shop  Guide</title>
<style>body { color: red }</style><script>var tracking = 1;</script></head>
<body><header><nav>Home | Cart</nav></header>
<main><header><h1>Returns</h1></header><p>Items can be
returned within <b>30</b> days.</p><!-- hidden comment -->
<h2>How to return</h2><ul><li>Pack it</li><li>Ship it</li></ul>
<pre># keep this comment
  indented()</pre></main>
<aside>Buy more!</aside><footer>Copyright</footer><noscript>Enable JS</noscript></body></html>"""


def test_html_to_text_keeps_readable_text_and_structure() -> None:
    text, title = html_to_text(PAGE)
    assert title == "Shop Guide"
    assert text == (
        "# Returns\n\n"
        "Items can be returned within 30 days.\n\n"
        "## How to return\n\n"
        "- Pack it\n- Ship it\n\n"
        "```\n# keep this comment\n  indented()\n```"
    )
    for noise in ("tracking", "color", "Home", "Cart", "Buy more", "Copyright", "Enable JS",
                  "hidden comment"):  # fmt: skip
        assert noise not in text


def test_load_html_title_falls_back_to_h1(tmp_path: Path) -> None:
    path = write(tmp_path / "p.html", "<html><body><h1>Only  Heading</h1><p>Body.</p></body>")
    doc = load_html(path, tenant="t1")
    assert doc.title == "Only Heading"
    assert doc.text == "# Only Heading\n\nBody."
    assert doc.attributes == {"format": "html"}
    assert doc.tenant == "t1" and doc.url == path.resolve().as_uri()


def test_load_html_uses_declared_charset_when_not_utf8(tmp_path: Path) -> None:
    markup = '<html><head><meta charset="iso-8859-1"></head><body><p>Café crème</p></body></html>'
    doc = load_html(write(tmp_path / "latin.htm", markup.encode("latin-1")))
    assert doc.text == "Café crème"


def test_load_html_without_readable_text(tmp_path: Path) -> None:
    path = write(tmp_path / "empty.html", "<html><script>x()</script><nav>menu</nav></html>")
    with pytest.raises(BadInput, match="no readable text"):
        load_html(path)


# --- PDF ----------------------------------------------------------------------------------------


def test_load_pdf_pages_and_metadata_title(tmp_path: Path) -> None:
    path = write(tmp_path / "manual.pdf", make_pdf(["Page one text.", "Page two text."], "Manual"))
    doc = load_pdf(path, tenant="acme")
    assert doc.text == "Page one text.\n\nPage two text."
    assert doc.title == "Manual"
    assert doc.attributes == {"format": "pdf", "pages": 2}
    assert doc.url == path.resolve().as_uri() and doc.tenant == "acme"


def test_load_pdf_title_from_file_name(tmp_path: Path) -> None:
    doc = load_pdf(write(tmp_path / "spec-sheet.pdf", make_pdf(["Hello", "", "World"])))
    assert doc.title == "spec-sheet"
    assert doc.text == "Hello\n\nWorld"
    assert doc.attributes["pages"] == 3


def test_load_pdf_without_text(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match=r"scan\.pdf: no extractable text in 2 page"):
        load_pdf(write(tmp_path / "scan.pdf", make_pdf(["", ""])))


def test_load_pdf_damaged(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match=r"broken\.pdf: not a readable PDF"):
        load_pdf(write(tmp_path / "broken.pdf", b"%PDF-1.4\nthis is not really a pdf"))


# --- records ------------------------------------------------------------------------------------

CSV = (
    "sku,name,description,price,link\n"
    'A1,Kettle,"Boils water, fast.",25,https://shop.test/a1\n'
    "B2,Mug,,5,https://shop.test/b2\n"
    'C3,Teapot,"Holds tea.\nPours well.",18,\n'
)


def test_load_csv_records(tmp_path: Path) -> None:
    path = write(tmp_path / "products.csv", CSV)
    docs = load_csv(
        path, text_fields=["name", "description"], id_field="sku", title_field="name",
        url_field="link", tenant="shop1",
    )  # fmt: skip
    # B2 has text in "name", so it stays; every record gets a Document.
    assert [d.source for d in docs] == ["A1", "B2", "C3"]
    a1, b2, c3 = docs
    assert a1.text == "Kettle\n\nBoils water, fast."
    assert a1.title == "Kettle" and a1.url == "https://shop.test/a1"
    assert a1.attributes == {"price": "25"}
    assert a1.tenant == "shop1"
    assert b2.text == "Mug"
    assert c3.text == "Teapot\n\nHolds tea.\nPours well."
    # No link: the file URI with the record's first line.
    assert c3.url == path.resolve().as_uri() + "#line-4"


def test_load_csv_skips_records_without_text_and_tsv(tmp_path: Path) -> None:
    path = write(tmp_path / "faq.tsv", "q\ta\nWhat?\tThis.\nEmpty?\t\n")
    docs = load_csv(path, text_fields="a")
    assert [(d.text, d.source, d.attributes) for d in docs] == [
        ("This.", f"{path.as_posix()}#line-2", {"q": "What?"})
    ]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            "id,text\n1,ok\n2,too,many\n",
            r"bad\.csv: malformed CSV at line 3: 3 fields, header has 2",
        ),
        ('id,text\n1,"unterminated\n', r"bad\.csv: malformed CSV at line \d"),
        ('id,text\n1,"a"b\n', r"bad\.csv: malformed CSV at line 2"),
        ("id,body\n1,x\n", r"bad\.csv: no column\(s\) text \(columns: id, body\)"),
        ("id,text,id\n1,x,2\n", r"duplicate CSV column\(s\): id"),
        ("id,text\n1,a\n1,b\n", r"line 3: duplicate id '1' \(first at line 2\)"),
        ("id,text\n", r"bad\.csv: no records"),
        ("id,text\n1,\n2,  \n", r"no record has text in field\(s\) text"),
    ],
)
def test_load_csv_bad_input(tmp_path: Path, content: str, message: str) -> None:
    with pytest.raises(BadInput, match=message):
        load_csv(write(tmp_path / "bad.csv", content), text_fields=["text"], id_field="id")


def test_records_need_text_fields(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match=r"r\.csv: records need text_fields"):
        load_csv(write(tmp_path / "r.csv", "a\n1\n"))


def test_load_json_array(tmp_path: Path) -> None:
    records = [
        {"id": 7, "title": "Reset password", "body": "Open settings.", "tags": ["account"]},
        {"id": 8, "title": "Delete account", "body": "Contact support.", "tags": []},
    ]
    path = write(tmp_path / "faq.json", json.dumps(records, indent=2))
    docs = load_json(path, text_fields=["body"], id_field="id", title_field="title")
    assert [(d.source, d.title, d.text) for d in docs] == [
        ("7", "Reset password", "Open settings."),
        ("8", "Delete account", "Contact support."),
    ]
    assert docs[0].attributes == {"tags": ["account"]}
    assert docs[1].url == path.resolve().as_uri() + "#record-1"


def test_load_jsonl(tmp_path: Path) -> None:
    path = write(
        tmp_path / "tickets.jsonl",
        '{"key": "T-1", "summary": "Login fails", "prio": 1}\n\n'
        '{"key": "T-2", "summary": "Slow"}\n',
    )
    docs = load_jsonl(path, text_fields="summary", id_field="key", tenant="x")
    assert [(d.source, d.text, d.attributes, d.tenant) for d in docs] == [
        ("T-1", "Login fails", {"prio": 1}, "x"),
        ("T-2", "Slow", {}, "x"),
    ]
    assert docs[1].url.endswith("#line-3")


def test_malformed_json_names_line(tmp_path: Path) -> None:
    path = write(tmp_path / "bad.json", '[\n  {"text": "a"},\n  {"text": "b",}\n]')
    with pytest.raises(BadInput, match=r"bad\.json: malformed JSON at line 3, column"):
        load_json(path, text_fields="text")
    path = write(tmp_path / "bad.jsonl", '{"text": "a"}\n{"text": "b"\n')
    with pytest.raises(BadInput, match=r"bad\.jsonl: malformed JSON at line 2, column"):
        load_jsonl(path, text_fields="text")
    path = write(tmp_path / "list.jsonl", '{"text": "a"}\n[1, 2]\n')
    with pytest.raises(BadInput, match=r"line 2 is list, not an object"):
        load_jsonl(path, text_fields="text")
    path = write(tmp_path / "scalar.json", '"just a string"')
    with pytest.raises(BadInput, match=r"expected an array of objects, got str"):
        load_json(path, text_fields="text")


# --- git working tree ---------------------------------------------------------------------------


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


def test_load_git_tree(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    write(repo / "src/app.py", "def main():\n    return 1\n")
    write(repo / "README.md", "# Demo\n")
    write(repo / "Dockerfile", "FROM python:3.11\n")
    write(repo / "logo.png", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    write(repo / "latin1.txt", "caf\xe9".encode("latin-1"))
    write(repo / "big.txt", "x = 1\n" * 500)
    write(repo / "node_modules/lib/index.js", "module.exports = 1;\n")
    write(repo / "static/app.min.js", "var a=1;\n")
    write(repo / "static/bundle.js", "var a=1;" * 400)  # one very long line
    write(repo / ".gitignore", "secret.env\n")
    write(repo / "secret.env", "TOKEN=1\n")
    git(repo, "init", "-q")
    git(repo, "add", "-A")
    write(repo / "notes/todo.txt", "untracked but not ignored\n")
    (repo / "link.py").symlink_to(repo / "src/app.py")

    docs = load_git_tree(repo, tenant="dev", max_file_bytes=1000)
    by_source = {d.source: d for d in docs}
    assert sorted(by_source) == [".gitignore", "Dockerfile", "README.md", "notes/todo.txt",
                                 "src/app.py"]  # fmt: skip
    app = by_source["src/app.py"]
    assert app.text == "def main():\n    return 1\n"
    assert app.attributes == {"language": "python", "path": "src/app.py"}
    assert app.title == "src/app.py" and app.tenant == "dev"
    assert app.url == (repo / "src/app.py").resolve().as_uri()
    assert by_source["Dockerfile"].attributes["language"] == "dockerfile"
    assert by_source["README.md"].attributes["language"] == "markdown"

    hosted = load_git_tree(repo, base_url="https://git.test/demo/blob/main/")
    assert {d.url for d in hosted if d.source == "src/app.py"} == {
        "https://git.test/demo/blob/main/src/app.py"
    }
    # The size limit is what kept big.txt out.
    assert "big.txt" in {d.source for d in load_git_tree(repo, max_file_bytes=10_000)}


def test_load_git_tree_not_a_repo(tmp_path: Path) -> None:
    write(tmp_path / "plain/a.py", "x = 1\n")
    with pytest.raises(BadInput, match=r"plain: not a git working tree"):
        load_git_tree(tmp_path / "plain")


# --- bad input and dispatch ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.txt", b"", r"empty\.txt: empty file$"),
        ("blank.md", b"  \n\n\t", r"blank\.md: empty file \(whitespace only\)"),
        ("nul.txt", b"abc\x00def", r"nul\.txt: binary content \(contains NUL bytes\)"),
        ("latin.txt", "caf\xe9".encode("latin-1"), r"latin\.txt: not UTF-8 text .*offset 3"),
        ("image.png", b"\x89PNG", r"image\.png: unsupported extension '\.png'"),
        ("noext", b"text", r"noext: unsupported extension '\(none\)'"),
        ("empty.pdf", b"", r"empty\.pdf: empty file"),
        ("empty.html", b"", r"empty\.html: empty file"),
    ],
)
def test_bad_files_give_clear_errors(tmp_path: Path, name: str, content: bytes, message: str):
    with pytest.raises(BadInput, match=message):
        load_path(write(tmp_path / name, content))


def test_file_over_max_bytes(tmp_path: Path) -> None:
    path = write(tmp_path / "big.md", "word " * 100)
    with pytest.raises(BadInput, match=r"big\.md: file is 500 bytes, over the limit of 100"):
        load_path(path, max_bytes=100)
    assert load_path(path, max_bytes=500)[0].text == "word " * 100


def test_load_path_dispatch(tmp_path: Path) -> None:
    assert load_path(write(tmp_path / "a.MD", "# T\n"))[0].attributes["format"] == "markdown"
    page = write(tmp_path / "page.bin", "<p>hi</p>")
    assert load_path(page, content_type="text/html; charset=utf-8")[0].text == "hi"
    with pytest.raises(BadInput, match="unsupported content type 'image/png'"):
        load_path(page, content_type="image/png")
    rows = write(tmp_path / "rows.txt", "a\tb\nx\ty\n")
    [doc] = load_path(rows, content_type="text/tab-separated-values", text_fields=["b"])
    assert doc.text == "y" and doc.attributes == {"a": "x"}
    with pytest.raises(TypeError, match="unknown loader option"):
        load_path(page, text_feilds=["b"])


def test_load_paths_reports_errors_and_keeps_going(tmp_path: Path) -> None:
    good_txt = write(tmp_path / "a.txt", "alpha")
    good_csv = write(tmp_path / "b.csv", "id,body\n1,beta\n")
    empty = write(tmp_path / "c.txt", "")
    bad_json = write(tmp_path / "d.jsonl", '{"body": \n')
    unknown = write(tmp_path / "e.docx", "x")
    missing = tmp_path / "f.txt"
    repo = tmp_path / "repo"
    write(repo / "main.go", "package main\n")
    git(repo, "init", "-q")
    git(repo, "add", "-A")

    report = load_paths(
        [good_txt, empty, good_csv, bad_json, unknown, missing, repo],
        tenant="t", text_fields="body", id_field="id",
    )  # fmt: skip
    assert [d.text for d in report.documents] == ["alpha", "beta", "package main\n"]
    assert {d.tenant for d in report.documents} == {"t"}
    assert report.errors[0] == LoadError(str(empty), "empty file")
    assert [e.path for e in report.errors] == [str(empty), str(bad_json), str(unknown),
                                                str(missing)]  # fmt: skip
    assert report.errors[1].reason.startswith("malformed JSON at line 1")
    assert report.errors[2].reason.startswith("unsupported extension '.docx'")
    assert report.errors[3].reason == "no such file"
