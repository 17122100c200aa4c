"""Unit tests of the UI's pure modules (markdown.js, sse.js, upload.js, api.js), run in headless
Chromium: a blank page from a local static server imports them and a harness module (below)
provides an in-page fake tus server behind the upload client's injectable transport."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]

HARNESS = r"""
import * as md from '/static/markdown.js';
import * as sse from '/static/sse.js';
import * as tus from '/static/upload.js';
import * as api from '/static/api.js';

// An in-memory tus server behind the client's transport interface. `faults` maps a PATCH
// number (1-based) to 'error500' | 'network' | 'conflict' | 'always503'; a failing PATCH keeps
// `keep` bytes of its chunk first (a partial write, as a real server would).
function fakeServer({ faults = {}, keep = 300, finalStatus = 204, uploads = {} } = {}) {
  const server = { uploads, log: [], patches: 0, nextId: 1 };
  server.transport = async ({ method, url, headers, body, onProgress }) => {
    server.log.push({ method, url: url.replace(location.origin, ''), headers: { ...headers } });
    const res = (status, hdrs = {}, text = '') => ({
      status, text, header: (name) => hdrs[name] ?? null,
    });
    const problem = (status, detail, code) =>
      res(status, {}, JSON.stringify({ title: 'x', status, detail, code }));
    if (method === 'POST') {
      const id = `u${server.nextId++}`;
      server.uploads[id] = { length: Number(headers['Upload-Length']), bytes: [],
                             metadata: headers['Upload-Metadata'] };
      return res(201, { Location: `/v1/uploads/${id}` });
    }
    const id = url.split('/').pop();
    const up = server.uploads[id];
    if (method === 'DELETE') { delete server.uploads[id]; return res(204); }
    if (!up) return res(404);
    if (method === 'HEAD') {
      return res(200, { 'Upload-Offset': String(up.bytes.length),
                        'Upload-Length': String(up.length) });
    }
    if (method === 'PATCH') {
      server.patches += 1;
      const fault = faults[server.patches] || faults.all;
      if (fault === 'conflict') return res(409);
      if (Number(headers['Upload-Offset']) !== up.bytes.length) return res(409);
      const data = new Uint8Array(await body.arrayBuffer());
      if (fault === 'always503') return problem(503, 'busy', 'busy');
      const take = fault ? data.slice(0, keep) : data;
      up.bytes.push(...take);
      onProgress?.(take.length);
      if (fault === 'error500') return problem(500, 'Storage hiccup', 'internal');
      if (fault === 'network') throw new tus.NetworkError();
      if (up.bytes.length >= up.length && finalStatus !== 204) {
        delete server.uploads[id];
        return problem(finalStatus, 'This file is not audio or video.', 'not_media');
      }
      return res(204, { 'Upload-Offset': String(up.bytes.length) });
    }
    return res(405);
  };
  return server;
}

function memoryStorage(initial = {}) {
  const map = new Map(Object.entries(initial));
  return {
    map,
    getItem: (k) => (map.has(k) ? map.get(k) : null),
    setItem: (k, v) => map.set(k, String(v)),
    removeItem: (k) => map.delete(k),
  };
}

function makeFile(size, name = 'Café – 第1回.mp4', lastModified = 1700000000000) {
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i += 1) bytes[i] = (i * 31 + 7) % 251;
  return { file: new File([bytes], name, { lastModified }), bytes };
}

const sameBytes = (a, b) => a.length === b.length && a.every((v, i) => v === b[i]);

// Render Markdown into a detached element and describe what came out.
function inspect(html) {
  const div = document.createElement('div');
  div.innerHTML = html;
  const tags = [...div.querySelectorAll('*')].map((el) => el.tagName.toLowerCase());
  const attrs = [...div.querySelectorAll('*')].flatMap((el) =>
    [...el.attributes].map((a) => `${el.tagName.toLowerCase()}[${a.name}]`));
  return { tags, attrs, text: div.textContent, div };
}

window.harness = { md, sse, tus, api, fakeServer, memoryStorage, makeFile, sameBytes, inspect };
"""


@pytest_asyncio.fixture(loop_scope="session", scope="module")
async def page(browser: Any, static_origin: str) -> AsyncIterator[Any]:
    ctx = await browser.new_context()
    ctx.set_default_timeout(10_000)
    pg = await ctx.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    await pg.goto(f"{static_origin}/blank.html")
    await pg.add_script_tag(type="module", content=HARNESS)
    await pg.wait_for_function("window.harness !== undefined")
    yield pg
    await ctx.close()
    assert not errors, errors


async def js(page: Any, body: str, arg: Any = None) -> Any:
    """Run ``body`` as an async function with ``H`` (the harness) and ``arg`` in scope."""
    return await page.evaluate(f"async (arg) => {{ const H = window.harness; {body} }}", arg)


# -- markdown.js ------------------------------------------------------------------------------
ALLOWED_TAGS = {
    "h1", "h2", "h3", "h4", "h5", "h6", "p", "br", "strong", "em", "code", "pre", "ul", "ol",
    "li", "blockquote", "hr", "a",
}  # fmt: skip
ALLOWED_ATTRS = {"a[href]", "a[target]", "a[rel]", "ol[start]"}
NASTY = [
    "<script>alert(1)</script>",
    '<img src=x onerror="alert(1)">',
    '<a href="javascript:alert(1)">x</a>',
    "[click](javascript:alert(1))",
    "[click](JaVaScRiPt:alert(1))",
    '[x](https://a.example/"onmouseover="alert)',
    "[x](https://a.example/'onmouseover='alert)",
    "[x](https://a.example/`code`)",
    "**<b>bold</b>**",
    "> <iframe src=//evil></iframe>",
    "- <svg onload=alert(1)>",
    "# <style>*{}</style>",
    "`<script>`",
    "```\n<script>alert(1)</script>\n```",
    "&lt;script&gt; already escaped",
    "\u0000<script>\u00000\u0000",
    "[`x`](data:text/html,<script>alert(1)</script>)",
    "<!-- comment --><p onclick=x>",
    "*<i>x</i>*",
]


async def test_markdown_escapes_every_tag_and_attribute_from_the_input(page: Any) -> None:
    outs = await js(
        page,
        "return arg.map((s) => { const html = H.md.renderMarkdown(s);"
        " return { html, ...H.inspect(html), div: undefined }; });",
        NASTY,
    )
    for source, out in zip(NASTY, outs, strict=True):
        assert set(out["tags"]) <= ALLOWED_TAGS, (source, out["html"])
        assert set(out["attrs"]) <= ALLOWED_ATTRS, (source, out["html"])
    # The text survives, visibly, as typed.
    assert outs[0]["text"] == "<script>alert(1)</script>"
    assert outs[1]["text"] == '<img src=x onerror="alert(1)">'
    # javascript: and data: targets are never links; https ones stay whole inside href.
    for i in (3, 4, 16):
        assert "a" not in outs[i]["tags"], outs[i]["html"]
    hrefs = await js(
        page,
        "return arg.map((s) => [...H.inspect(H.md.renderMarkdown(s)).div.querySelectorAll('a')]"
        ".map((a) => a.getAttribute('href')));",
        NASTY[5:8],
    )
    assert hrefs == [
        ['https://a.example/"onmouseover="alert'],
        ["https://a.example/'onmouseover='alert"],
        [],  # a code span inside the target: not a link
    ]
    assert (await js(page, "return H.md.escapeHtml(`<a href=\"x\" title='y'>&`);")) == (
        "&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;"
    )


async def test_markdown_blocks_and_inline(page: Any) -> None:
    source = (
        "# Title\n\nSome **bold**, *italic*, _also italic_ and `code`.\n"
        "Second line of the same paragraph.\n\n"
        "## Steps\n\n- one\n- two\n  continued\n* three\n\n3. third\n4. fourth\n\n"
        "> quoted **line**\n> second\n\n---\n\nsnake_case_name stays and 2*3*4 too. "
        "[Docs](https://example.com/a_b?x=1&y=2)"
    )
    out = await js(
        page,
        "const d = H.inspect(H.md.renderMarkdown(arg)).div;"
        "return { html: d.innerHTML,"
        " h: [...d.querySelectorAll('h1,h2')].map((e) => e.tagName + ':' + e.textContent),"
        " li: [...d.querySelectorAll('li')]"
        "   .map((e) => e.parentElement.tagName + ':' + e.textContent),"
        " olStart: d.querySelector('ol')?.getAttribute('start'),"
        " strong: [...d.querySelectorAll('strong')].map((e) => e.textContent),"
        " em: [...d.querySelectorAll('em')].map((e) => e.textContent),"
        " code: d.querySelector('p code')?.textContent,"
        " br: d.querySelectorAll(':scope > p br').length,"
        " quote: d.querySelector('blockquote')?.innerHTML,"
        " hr: d.querySelectorAll('hr').length,"
        " link: ['href', 'rel', 'target'].map((k) => d.querySelector('a')?.[k]),"
        " last: d.querySelector(':scope > p:last-of-type')?.textContent };",
        source,
    )
    assert out["h"] == ["H1:Title", "H2:Steps"]
    assert out["li"] == ["UL:one", "UL:two continued", "UL:three", "OL:third", "OL:fourth"]
    assert out["olStart"] == "3"
    assert out["strong"] == ["bold", "line"]
    assert out["em"] == ["italic", "also italic"]
    assert out["code"] == "code"
    assert out["br"] == 1  # single newlines are kept (social posts rely on them)
    assert out["quote"] == "<p>quoted <strong>line</strong><br>second</p>"
    assert out["hr"] == 1
    assert out["link"] == [
        "https://example.com/a_b?x=1&y=2",
        "noopener noreferrer nofollow",
        "_blank",
    ]
    assert "snake_case_name stays and 2*3*4 too." in out["last"]
    shifted = await js(page, "return H.md.renderMarkdown('# A\\n\\n###### B', {headingOffset: 3});")
    assert shifted == "<h4>A</h4>\n<h6>B</h6>"
    assert await js(page, "return H.md.renderMarkdown('a\\r\\nb\\rc');") == "<p>a<br>b<br>c</p>"


# -- sse.js -----------------------------------------------------------------------------------
STREAM = (
    "\ufeff: comment\n"
    "event: progress\n"
    'data: {"stage":"audio","progress":0.5}\n'
    "\n"
    "id: 7\r\n"
    "event: asset\r\n"
    "data:first line\r\n"
    "data:  second line\r\n"
    "retry: 1500\r\n"
    "\r\n"
    "event: nodata\r"
    "\r"
    "data: plain\r"
    "\r"
    "event: done\n"
    'data: {"id":"j1"}\n'
    "\n"
    "data: unterminated at the end"
)
EXPECTED = [
    {"type": "progress", "data": '{"stage":"audio","progress":0.5}', "id": ""},
    {"type": "asset", "data": "first line\n second line", "id": "7"},
    {"type": "message", "data": "plain", "id": "7"},
    {"type": "done", "data": '{"id":"j1"}', "id": "7"},
]


async def test_sse_parser_any_chunking_gives_the_same_events(page: Any) -> None:
    out = await js(
        page,
        "const whole = new H.sse.SSEParser(); const a = whole.feed(arg);"
        "const bytewise = new H.sse.SSEParser(); const b = [];"
        "for (const ch of arg) b.push(...bytewise.feed(ch));"
        "const odd = new H.sse.SSEParser(); const c = [];"
        "for (let i = 0; i < arg.length; i += 5) c.push(...odd.feed(arg.slice(i, i + 5)));"
        "return { a, b, c, retry: whole.retry, rest: whole.end() };",
        STREAM,
    )
    assert out["a"] == EXPECTED
    assert out["b"] == EXPECTED
    assert out["c"] == EXPECTED
    assert out["retry"] == 1500
    assert out["rest"] == []  # an event without its blank line is dropped
    # A CRLF split across two chunks is one line end, not two (no phantom dispatch).
    split = await js(
        page,
        "const p = new H.sse.SSEParser();"
        "return [...p.feed('data: a\\r'), ...p.feed('\\ndata: b\\r'), ...p.feed('\\n\\r\\n')];",
    )
    assert split == [{"type": "message", "data": "a\nb", "id": ""}]


async def test_follow_events_reconnects_until_done_and_stops_on_401(page: Any) -> None:
    out = await js(
        page,
        """
        const enc = new TextEncoder();
        // A stream that delivers `text`, then ends (close) or breaks (a network error).
        const streamOf = (text, close = true) => {
          let sent = false;
          return new Response(new ReadableStream({
            pull(c) {
              if (!sent) { sent = true; c.enqueue(enc.encode(text)); }
              else if (close) c.close();
              else c.error(new TypeError('network'));
            },
          }), { headers: { 'Content-Type': 'text/event-stream' } });
        };
        const opened = [];
        const plans = [
          () => streamOf('id: 1\\nevent: progress\\ndata: {"stage":"audio"}\\n\\n'),  // ends early
          () => streamOf('event: progress\\ndata: {"stage":"transcribe"}\\n\\n', false),  // breaks
          () => new Response('busy', { status: 503 }),
          () => streamOf('event: progress\\ndata: {"stage":"clips"}\\n\\n'
                         + 'event: done\\ndata: {"id":"j"}\\n\\n'
                         + 'event: progress\\ndata: {"late":true}\\n\\n'),
        ];
        const events = [], states = [];
        const final = await H.sse.followEvents({
          open: async (lastId) => { opened.push(lastId); return plans[opened.length - 1](); },
          onEvent: (e) => events.push([e.type, e.data]),
          onState: (s) => states.push(s),
          retryDelays: [5, 10],
        });
        let error = null;
        const calls401 = [];
        try {
          await H.sse.followEvents({
            open: async () => { calls401.push(1); return new Response('no', { status: 401 }); },
            onEvent: () => {}, retryDelays: [5],
          });
        } catch (e) { error = [e.name, e.status]; }
        const ac = new AbortController();
        const pending = H.sse.followEvents({
          open: async (_, signal) => streamOf(': idle\\n\\n'), onEvent: () => {},
          signal: ac.signal, retryDelays: [10000],
        });
        setTimeout(() => ac.abort(), 50);
        const aborted = await pending;
        const ended = [final.type, final.data];
        return { final: ended, events, opened, states, error, calls401, aborted };
        """,
    )
    assert out["final"] == ["done", {"id": "j"}]
    assert out["events"] == [
        ["progress", {"stage": "audio"}],
        ["progress", {"stage": "transcribe"}],
        ["progress", {"stage": "clips"}],
        ["done", {"id": "j"}],
    ]
    assert out["opened"] == ["", "1", "1", "1"]  # Last-Event-ID is sent on every reconnect
    assert out["states"][:2] == ["connecting", "open"] and "reconnecting" in out["states"]
    assert out["error"] == ["StreamHttpError", 401] and out["calls401"] == [1]
    assert out["aborted"] is None


# -- upload.js (tus) --------------------------------------------------------------------------
async def test_tus_metadata_is_base64_of_utf8_and_fingerprint_is_stable(page: Any) -> None:
    name = "Café – 第1回.mp4"
    out = await js(
        page,
        "const {file} = H.makeFile(10, arg);"
        "return [H.tus.encodeMetadata({filename: arg, empty: ''}), H.tus.fingerprint(file),"
        " H.tus.uploadIdFromUrl('/v1/uploads/abc123'),"
        " H.tus.resolveLocation('/v1/uploads/x', '/v1/uploads'),"
        " H.tus.resolveLocation('https://cdn.example/u/1', '/v1/uploads')];",
        name,
    )
    assert out[0] == f"filename {base64.b64encode(name.encode()).decode()},empty "
    assert out[1] == f"ascent.tus.{name}:10:1700000000000"
    assert out[2] == "abc123"
    assert out[3].endswith("/v1/uploads/x") and out[3].startswith("http://127.0.0.1:")
    assert out[4] == "https://cdn.example/u/1"


async def test_tus_uploads_in_chunks_with_monotonic_progress(page: Any) -> None:
    out = await js(
        page,
        """
        const { file, bytes } = H.makeFile(3500);
        const server = H.fakeServer();
        const storage = H.memoryStorage();
        const progress = [];
        const states = [];
        const up = new H.tus.TusUpload(file, {
          chunkSize: 1000, transport: server.transport, storage,
          headers: () => ({ Authorization: 'Bearer k' }),
          onProgress: (sent, total) => progress.push([sent, total]),
          onState: (s) => states.push(s),
        });
        const result = await up.start();
        const stored = server.uploads[result.id];
        return {
          result, states: [...new Set(states)],
          log: server.log.map((l) => [l.method, l.headers['Upload-Offset'] ?? null,
                                      l.headers['Tus-Resumable'], l.headers.Authorization]),
          post: server.log[0].headers,
          progress, same: H.sameBytes(stored.bytes, [...bytes]),
          remembered: storage.getItem(up.key),
        };
        """,
    )
    assert out["log"] == [
        ["POST", None, "1.0.0", "Bearer k"],
        ["PATCH", "0", "1.0.0", "Bearer k"],
        ["PATCH", "1000", "1.0.0", "Bearer k"],
        ["PATCH", "2000", "1.0.0", "Bearer k"],
        ["PATCH", "3000", "1.0.0", "Bearer k"],
    ]
    assert out["post"]["Upload-Length"] == "3500"
    assert out["post"]["Upload-Metadata"].startswith("filename ")
    assert out["same"] is True
    sent = [p[0] for p in out["progress"]]
    assert sent == sorted(sent) and sent[-1] == 3500 and all(p[1] == 3500 for p in out["progress"])
    assert out["result"]["id"] == "u1" and out["result"]["resumed"] is False
    assert "processing" in out["states"]
    assert '"url"' in out["remembered"]  # kept until the job is created (then forget())


@pytest.mark.parametrize("fault", ["error500", "network"])
async def test_tus_resumes_from_the_server_offset_after_a_failed_chunk(page: Any, fault) -> None:
    out = await js(
        page,
        """
        const { file, bytes } = H.makeFile(3500);
        const server = H.fakeServer({ faults: { 2: arg }, keep: 300 });
        const retries = [];
        const up = new H.tus.TusUpload(file, {
          chunkSize: 1000, transport: server.transport, storage: H.memoryStorage(),
          retryDelays: [5, 5, 5, 5, 5], onRetry: (r) => retries.push([r.attempt, r.of, r.delay]),
        });
        const result = await up.start();
        return {
          log: server.log.map((l) => [l.method, l.headers['Upload-Offset'] ?? null]),
          retries, same: H.sameBytes(server.uploads[result.id].bytes, [...bytes]),
        };
        """,
        fault,
    )
    # The second chunk kept 300 bytes before failing: HEAD says 1300, the client goes on from it.
    assert out["log"] == [
        ["POST", None],
        ["PATCH", "0"],
        ["PATCH", "1000"],
        ["HEAD", None],
        ["PATCH", "1300"],
        ["PATCH", "2300"],
        ["PATCH", "3300"],
    ]
    assert out["retries"] == [[1, 5, 5]]
    assert out["same"] is True


async def test_tus_resyncs_on_409_and_gives_up_after_five_retries(page: Any) -> None:
    out = await js(
        page,
        """
        const { file, bytes } = H.makeFile(2500);
        const conflict = H.fakeServer({ faults: { 2: 'conflict' } });
        const up = new H.tus.TusUpload(file, {
          chunkSize: 1000, transport: conflict.transport, storage: H.memoryStorage(),
          retryDelays: [5, 5, 5, 5, 5],
        });
        const ok = await up.start();
        const busy = H.fakeServer({ faults: { all: 'always503' } });
        const retries = [];
        const failing = new H.tus.TusUpload(file, {
          chunkSize: 1000, transport: busy.transport, storage: H.memoryStorage(),
          retryDelays: [1, 1, 1, 1, 1], onRetry: (r) => retries.push(r.attempt),
        });
        let error = null;
        try { await failing.start(); } catch (e) { error = [e.name, e.status, e.message]; }
        return {
          conflictLog: conflict.log.map((l) => [l.method, l.headers['Upload-Offset'] ?? null]),
          same: H.sameBytes(conflict.uploads[ok.id].bytes, [...bytes]),
          busyPatches: busy.patches, retries, error,
        };
        """,
    )
    assert out["conflictLog"] == [
        ["POST", None],
        ["PATCH", "0"],
        ["PATCH", "1000"],
        ["HEAD", None],
        ["PATCH", "1000"],
        ["PATCH", "2000"],
    ]
    assert out["same"] is True
    assert out["busyPatches"] == 6  # the first try and 5 retries
    assert out["retries"] == [1, 2, 3, 4, 5]
    assert out["error"] == ["UploadHttpError", 503, "busy"]


async def test_tus_4xx_is_final_with_the_problem_detail_and_forgets_the_upload(page: Any) -> None:
    out = await js(
        page,
        """
        const { file } = H.makeFile(1500);
        const server = H.fakeServer({ finalStatus: 422 });
        const storage = H.memoryStorage();
        const up = new H.tus.TusUpload(file, {
          chunkSize: 1000, transport: server.transport, storage, retryDelays: [1],
        });
        let error = null;
        try { await up.start(); } catch (e) { error = [e.name, e.status, e.code, e.message]; }
        return { error, patches: server.patches, stored: storage.getItem(up.key) };
        """,
    )
    assert out["error"] == [
        "UploadHttpError",
        422,
        "not_media",
        "This file is not audio or video.",
    ]
    assert out["patches"] == 2
    assert out["stored"] is None


async def test_tus_resumes_a_remembered_upload_after_a_reload(page: Any) -> None:
    out = await js(
        page,
        """
        const { file, bytes } = H.makeFile(3000);
        const key = H.tus.fingerprint(file);
        // The previous page got 1700 bytes in before it was closed.
        const partial = { u9: { length: 3000, bytes: [...bytes.slice(0, 1700)] } };
        const server = H.fakeServer({ uploads: partial });
        const url = `${location.origin}/v1/uploads/u9`;
        const storage = H.memoryStorage({ [key]: JSON.stringify({ url }) });
        const progress = [];
        const up = new H.tus.TusUpload(file, {
          chunkSize: 1000, transport: server.transport, storage,
          onProgress: (sent) => progress.push(sent),
        });
        const result = await up.start();
        // A remembered upload the server no longer has: a fresh one is created.
        const gone = H.fakeServer();
        const storage2 = H.memoryStorage({ [key]: JSON.stringify({ url: '/v1/uploads/u404' }) });
        const again = await new H.tus.TusUpload(file, {
          chunkSize: 5000, transport: gone.transport, storage: storage2 }).start();
        // A remembered upload that is already complete: nothing to send.
        const full = H.fakeServer({ uploads: { u5: { length: 3000, bytes: [...bytes] } } });
        const storage3 = H.memoryStorage({ [key]: JSON.stringify({ url: '/v1/uploads/u5' }) });
        const complete = await new H.tus.TusUpload(file, {
          transport: full.transport, storage: storage3 }).start();
        return {
          result, firstProgress: progress[0],
          log: server.log.map((l) => [l.method, l.headers['Upload-Offset'] ?? null]),
          same: H.sameBytes(server.uploads.u9.bytes, [...bytes]),
          goneLog: gone.log.map((l) => l.method), again,
          fullLog: full.log.map((l) => l.method), complete,
          stored2: JSON.parse(storage2.getItem(key)).url,
        };
        """,
    )
    assert out["log"] == [["HEAD", None], ["PATCH", "1700"], ["PATCH", "2700"]]
    assert out["result"] == {"url": out["result"]["url"], "id": "u9", "resumed": True}
    assert out["firstProgress"] == 1700
    assert out["same"] is True
    assert out["goneLog"] == ["HEAD", "POST", "PATCH"]
    assert out["again"]["resumed"] is False and out["stored2"].endswith("/v1/uploads/u1")
    assert out["fullLog"] == ["HEAD"]
    assert out["complete"]["id"] == "u5"


async def test_tus_abort_with_terminate_deletes_and_forgets(page: Any) -> None:
    out = await js(
        page,
        """
        const { file } = H.makeFile(4000);
        const server = H.fakeServer();
        const inner = server.transport;
        let up;
        server.transport = async (req) => {
          const answer = await inner(req);
          if (req.method === 'PATCH') await up.abort({ terminate: true });
          return answer;
        };
        const storage = H.memoryStorage();
        const transport = (r) => server.transport(r);
        up = new H.tus.TusUpload(file, { chunkSize: 1000, transport, storage });
        let error = null;
        try { await up.start(); } catch (e) { error = e.name; }
        return { error, log: server.log.map((l) => l.method), left: Object.keys(server.uploads),
                 stored: storage.getItem(up.key) };
        """,
    )
    assert out["error"] == "AbortError"
    assert out["log"] == ["POST", "PATCH", "DELETE"]
    assert out["left"] == [] and out["stored"] is None


# -- api.js -----------------------------------------------------------------------------------
async def test_key_is_taken_from_the_fragment(page: Any) -> None:
    out = await js(
        page,
        "return arg.map((h) => { const r = H.api.takeKeyFromHash(h); return [r.key, r.rest]; });",
        ["#key=asc_abc", "#/jobs/j1?key=asc_x&y=1", "#/jobs", "", "#key=", "#/?key=%20asc_s%20"],
    )
    assert out == [
        ["asc_abc", ""],
        ["asc_x", "#/jobs/j1?y=1"],
        [None, "#/jobs"],
        [None, ""],
        [None, "#key="],
        ["asc_s", "#/"],
    ]


async def test_wait_for_new_version_polls_then_times_out(page: Any) -> None:
    out = await js(
        page,
        """
        let calls = 0;
        const asset = await H.api.waitForNewVersion({
          fetchAsset: async () => {
            calls += 1;
            if (calls === 2) throw Object.assign(new Error('flaky'), { status: 502 });
            return { kind: 'blog', version: calls >= 4 ? 3 : 2 };
          },
          afterVersion: 2, interval: 5, timeout: 5000,
        });
        let timedOut = null, polls = 0;
        const t0 = performance.now();
        try {
          await H.api.waitForNewVersion({
            fetchAsset: async () => { polls += 1; return { version: 1 }; },
            afterVersion: 1, interval: 10, timeout: 60,
          });
        } catch (e) { timedOut = e.name; }
        let forbidden = null;
        try {
          await H.api.waitForNewVersion({
            fetchAsset: async () => { throw Object.assign(new Error('no'), { status: 403 }); },
            afterVersion: 1, interval: 1, timeout: 1000,
          });
        } catch (e) { forbidden = e.message; }
        return { asset, calls, timedOut, polls, took: performance.now() - t0, forbidden };
        """,
    )
    assert out["asset"] == {"kind": "blog", "version": 3} and out["calls"] == 4
    assert out["timedOut"] == "TimeoutError" and 3 <= out["polls"] <= 8
    assert out["took"] < 1000
    assert out["forbidden"] == "no"
