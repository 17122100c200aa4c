"""Fixtures for the repurposer UI tests (apps/repurposer-ui) in the Debian Chromium.

- ``static_origin``: ``http.server`` in a thread serving the UI folder, for the unit tests of
  the pure modules (imported into a blank page with dynamic ``import()``).
- ``fake``: ``FakeRepurposer`` (fake_api.py), an aiohttp app speaking
  services/repurposer/API.md, in the session event loop next to Playwright's async API.
- ``media``: small H.264/AAC clips and thumbnails made by FFmpeg once per session.
"""

from __future__ import annotations

import contextlib
import importlib.util
import shutil
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

HERE = Path(__file__).resolve().parent
UI_DIR = HERE.parents[2] / "apps" / "repurposer-ui"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
BLANK = b"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>t</title></head></html>"


def _load_fake() -> Any:
    spec = importlib.util.spec_from_file_location("repurposer_ui_fake_api", HERE / "fake_api.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up here
    spec.loader.exec_module(module)
    return module


fake_api = _load_fake()


# -- static server for the unit tests ----------------------------------------------------------
class _StaticHandler(SimpleHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path.split("?")[0] == "/blank.html":
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(BLANK)))
            self.end_headers()
            self.wfile.write(BLANK)
            return
        super().do_GET()

    def end_headers(self) -> None:
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="session")
def static_origin() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_StaticHandler, directory=str(UI_DIR)))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join(5)


# -- media ---------------------------------------------------------------------------------------
def _ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", *args], check=True)


@pytest.fixture(scope="session")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Files served under /v1/files/: two 3 s H.264/AAC clips, thumbnails and exports."""
    if shutil.which("ffmpeg") is None:
        pytest.skip("ffmpeg not installed")
    out = tmp_path_factory.mktemp("repurposer-ui-media")
    files: dict[str, Path] = {}
    for aspect, size in (("16x9", "320x180"), ("9x16", "180x320")):
        clip = out / f"clip-{aspect}.mp4"
        _ffmpeg(
            "-f", "lavfi", "-i", f"testsrc=size={size}:rate=25", "-f", "lavfi", "-i", "sine",
            "-t", "3", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
            "-c:a", "aac", "-movflags", "+faststart", str(clip),
        )  # fmt: skip
        thumb = out / f"thumb-{aspect}.jpg"
        _ffmpeg("-i", str(clip), "-frames:v", "1", str(thumb))
        files[clip.name], files[thumb.name] = clip, thumb
    for ext in ("srt", "vtt", "txt", "md", "docx", "zip"):
        path = out / f"export.{ext}"
        path.write_bytes(f"export {ext}\n".encode())
        files[path.name] = path
    return files


# -- the fake service ----------------------------------------------------------------------------
@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def fake_server(
    media: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Any]:
    from aiohttp import web

    fake = fake_api.FakeRepurposer(UI_DIR, media, tmp_path_factory.mktemp("uploads"))
    runner = web.AppRunner(fake.app(), handle_signals=False, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    fake.origin = f"http://127.0.0.1:{port}"
    yield fake
    fake.release.set()
    await runner.cleanup()


@pytest.fixture
def fake(fake_server: Any) -> Any:
    fake_server.release.set()  # let a held PATCH from an earlier test finish
    fake_server.reset()
    return fake_server


# -- the browser ---------------------------------------------------------------------------------
@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def browser() -> AsyncIterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} not installed")
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        chromium = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            await chromium.close()


@pytest_asyncio.fixture(loop_scope="session")
async def new_page(browser: Any) -> AsyncIterator[Any]:
    """A factory of pages, each in a fresh profile (own localStorage); uncaught page errors and
    CSP violations fail the test. ``origin`` gets clipboard permissions; ``chunk_bytes`` sets
    the upload chunk size (the UI's localStorage override) before the page loads."""
    contexts: list[Any] = []
    pages: list[Any] = []

    async def make(
        origin: str | None = None,
        viewport: tuple[int, int] = (1280, 900),
        color_scheme: str = "light",
        chunk_bytes: int | None = None,
    ) -> Any:
        ctx = await browser.new_context(
            locale="en-US",
            viewport={"width": viewport[0], "height": viewport[1]},
            color_scheme=color_scheme,
        )
        ctx.set_default_timeout(10_000)
        if origin:
            await ctx.grant_permissions(["clipboard-read", "clipboard-write"], origin=origin)
        if chunk_bytes:
            await ctx.add_init_script(
                f"localStorage.setItem('ascent.repurposer.chunkBytes', '{chunk_bytes}')"
            )
        contexts.append(ctx)
        page = await ctx.new_page()
        page.js_errors = []
        page.on("pageerror", lambda exc: page.js_errors.append(str(exc)))
        # The fake serves index.html with a strict CSP (no inline script or style): a
        # violation is a bug the real service would hit too.
        page.on(
            "console",
            lambda msg: "Content Security Policy" in msg.text and page.js_errors.append(msg.text),
        )
        pages.append(page)
        return page

    yield make
    errors = [e for p in pages for e in p.js_errors]
    for ctx in contexts:
        with contextlib.suppress(Exception):
            await ctx.close()
    assert not errors, f"uncaught errors in the page: {errors}"
