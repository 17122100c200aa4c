"""The whole product in a browser: the real repurposer service and a real ``ascent worker``,
driven by headless Chromium. Sign in locally, upload a talk, watch the progress reach 100 %,
play a clip, copy a post."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import uvicorn

from services.repurposer.app import create_repurposer_app

pytestmark = [pytest.mark.browser, pytest.mark.llm, pytest.mark.slow, pytest.mark.timeout(1800)]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@pytest.fixture
def short_talk(talk_video, tmp_path) -> Path:
    """The first 45 s of the talk video (the pipeline's cost grows with the length)."""
    out = tmp_path / "short talk.mp4"
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(talk_video), "-t", "45",
                    "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", str(out)],
                   check=True)  # fmt: skip
    return out


@pytest.fixture
def service(settings, database_url, llm_base_url, tmp_path):
    store = tmp_path / "store"
    rp = settings.model_copy(update={
        "repurposer_storage_url": f"file://{store}", "repurposer_demo": True,
        "llm_base_url": llm_base_url,
    })  # fmt: skip
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(create_repurposer_app(rp), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    env = {
        **os.environ, "DATABASE_URL": database_url, "ASCENT_DATA_HOME": str(settings.data_home),
        "ASCENT_LLM_BASE_URL": llm_base_url, "ASCENT_LLM_MODEL": settings.llm_model,
        "ASCENT_REPURPOSER_STORAGE_URL": f"file://{store}", "ASCENT_MIGRATE_ON_START": "false",
        "ASCENT_REPURPOSER_CLIP_HEIGHT": "360", "ASCENT_ENV": "test",
    }  # fmt: skip
    log = (tmp_path / "worker.log").open("w")
    worker = subprocess.Popen(
        [sys.executable, "-m", "shared.cli.main", "worker"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.time() + 30
    while not server.started and time.time() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    os.killpg(worker.pid, signal.SIGTERM)
    try:
        worker.wait(timeout=30)
    except subprocess.TimeoutExpired:  # still inside a job: stopping it is all that matters here
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(timeout=10)
    log.close()
    server.should_exit = True
    thread.join(timeout=10)


async def test_upload_progress_play_and_copy_in_a_browser(service, short_talk):
    if not Path(CHROMIUM).exists():
        pytest.skip("chromium is not installed")
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = await browser.new_context(viewport={"width": 1280, "height": 900})
        await context.grant_permissions(["clipboard-read", "clipboard-write"], origin=service)
        page = await context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        await page.goto(service)
        # Signed in to the local workspace without a key (development, same machine).
        await page.get_by_test_id("dropzone").wait_for()
        await page.get_by_test_id("file-input").set_input_files(str(short_talk))
        progress = page.get_by_test_id("upload-progress")
        await page.wait_for_function(
            "el => el.getAttribute('aria-valuenow') === '100'", arg=await progress.element_handle()
        )
        await page.get_by_test_id("opt-clips").fill("1")
        await page.get_by_test_id("start-job").click()
        await page.get_by_test_id("job-view").wait_for()
        await page.get_by_test_id("results").wait_for(timeout=600_000)
        overall = await page.get_by_test_id("overall-percent").text_content()
        assert "100" in overall

        video = page.get_by_test_id("clip-video").first
        await video.evaluate("v => { v.muted = true; return v.play(); }")
        await page.wait_for_function("v => v.currentTime > 0.5", arg=await video.element_handle())

        linkedin = page.get_by_test_id("asset-linkedin")
        await linkedin.get_by_test_id("asset-copy").click()
        copied = await page.evaluate("navigator.clipboard.readText()")
        job_id = page.url.rsplit("/", 1)[-1]
        body = await page.evaluate(
            """async (id) => {
                const key = localStorage.getItem('ascent.repurposer.key');
                const r = await fetch(`/v1/jobs/${id}/assets/linkedin`,
                                      {headers: {Authorization: `Bearer ${key}`}});
                return (await r.json()).body;
            }""",
            job_id,
        )
        assert copied == body and len(body) > 20
        assert not errors, errors
        await browser.close()
