"""A scriptable stand-in for the repurposer service (services/repurposer/API.md), on aiohttp.

It serves the UI exactly as the service will (``/`` is ``index.html``, assets under
``/static/``) and implements the ``/v1`` contract with canned results: a real tus 1.0.0
server writing chunks to a temp file (so progress and resume are real), a job whose stages
advance with time and are streamed over SSE, signed file URLs with Range support, asset edits
and regenerations. Knobs on ``FakeRepurposer`` make it misbehave: fail or drop a PATCH half way,
hold PATCHes, reject the media, fail a stage, drop the event stream. ``calls`` records every
request (method, path, headers, JSON body) for assertions.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiohttp import web

KEY = "asc_test_9f3c2e7a1b"
SIG = "sig=t3st"
STAGES = ["audio", "transcribe", "chapters", "highlights", "clips", "writing", "exports"]
WEIGHTS = [0.05, 0.3, 0.05, 0.1, 0.3, 0.15, 0.05]
JSON = web.RequestKey("json", object)
RECORDED = {
    "authorization", "tus-resumable", "upload-length", "upload-metadata", "upload-offset",
    "content-type", "content-length", "last-event-id", "range",
}  # fmt: skip
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "media-src 'self' blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'"
)

ASSETS: dict[str, dict[str, Any]] = {
    "blog": {
        "title": "Why your coffee tastes different every morning",
        "body": (
            "# Why your coffee tastes different every morning\n\n"
            "Water temperature and grind size matter **more than the beans**. "
            '<img src=x onerror="window.__xss=1"> <script>window.__xss=2</script>\n\n'
            "## What to change\n\n"
            "- Heat the water to *92 degrees*\n"
            "- Grind coarser for a French press\n\n"
            "> Ninety two degrees is the sweet spot for most light roasts.\n\n"
            "[Evil link](javascript:alert(1)) and [a good one](https://example.com/coffee)."
        ),
        "quotes": [{"text": "Ninety two degrees is the sweet spot.", "start": 41.2}],
    },
    "thread": {
        "title": "",
        "body": (
            "1/ Your kettle is probably burning your coffee.\n\n"
            "2/ Boiling water scorches the delicate flavours of light roasts.\n\n"
            "3/ Try 92 degrees instead."
        ),
    },
    "linkedin": {
        "title": "",
        "body": (
            "I measured my kettle last week and was honestly shocked. ☕\n"
            "It boils at 100 °C, and that burns the delicate flavours.\n\n"
            "Three things I changed:\n"
            "1. 92 °C water\n"
            "2. A coarser grind for the French press\n"
            "3. Four minutes, not six\n\n"
            "What's your brewing ritual? #coffee #craft <b>not bold</b>"
        ),
    },
    "instagram": {
        "title": "",
        "body": "Your kettle is too hot. 🔥 92 °C is the sweet spot.\n\n#coffee #barista",
    },
    "newsletter": {
        "title": "This week: coffee and rockets",
        "body": (
            "## Coffee\n\nWater temperature matters.\n\n## Rockets\n\nBoosters now fly 20 times."
        ),
    },
    "show_notes": {
        "title": "Episode 12: coffee and rockets",
        "body": "In this episode:\n\n- 0:00 Coffee\n- 1:35 Reusable rockets\n- 3:10 Wrap-up",
    },
}
CHAPTERS = [
    {"index": 0, "start": 0.0, "end": 95.2, "title": "Coffee", "summary": "Why grind matters."},
    {"index": 1, "start": 95.2, "end": 190.0, "title": "Reusable rockets", "summary": "Boosters."},
    {"index": 2, "start": 190.0, "end": 212.5, "title": "Wrap-up", "summary": ""},
]
HIGHLIGHTS = [
    {
        "index": 0,
        "start": 12.1,
        "end": 41.0,
        "title": "Your kettle is too hot",
        "score": 87,
        "reasons": ["Opens with a question", "Strong emotion", "Self-contained"],
        "text": "Why does the same coffee taste so different from one morning to the next?",
    },
    {
        "index": 1,
        "start": 120.4,
        "end": 146.9,
        "title": "Landing a rocket on a ship",
        "score": 64,
        "reasons": ["Surprising fact"],
        "text": "Landing a booster upright on a ship in the ocean sounded impossible.",
    },
]


def problem(status: int, title: str, detail: str, code: str) -> web.Response:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    body["code"] = code
    return web.Response(
        status=status, text=json.dumps(body), content_type="application/problem+json"
    )


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")


@dataclass
class Call:
    method: str
    path: str
    headers: dict[str, str]
    body: Any = None


@dataclass
class Upload:
    id: str
    path: Path
    length: int
    filename: str
    offset: int = 0
    status: str = "receiving"

    def json(self) -> dict[str, Any]:
        media = None
        if self.status == "ready":
            media = {"format_name": "mov,mp4", "duration": 212.5, "size": self.length}
            media |= {"has_video": True, "has_audio": True, "width": 1280, "height": 720}
        return {
            "id": self.id,
            "filename": self.filename,
            "length": self.length,
            "offset": self.offset,
            "status": self.status,
            "media": media,
            "error": None,
        }


@dataclass
class Job:
    id: str
    filename: str
    request: dict[str, Any]
    created: float  # monotonic
    created_wall: float
    stage_seconds: float
    fail_stage: str | None = None
    assets: dict[str, dict[str, Any]] = field(default_factory=dict)

    def state(self) -> dict[str, Any]:
        elapsed = time.monotonic() - self.created
        stages, overall, status, error = [], 0.0, "running", None
        failed_at = STAGES.index(self.fail_stage) if self.fail_stage else None
        for i, name in enumerate(STAGES):
            begin = i * self.stage_seconds
            progress = min(1.0, max(0.0, (elapsed - begin) / self.stage_seconds))
            if failed_at is not None and i == failed_at and progress >= 0.5:
                stages.append(
                    {"name": name, "status": "failed", "progress": 0.5, "seconds": None,
                     "error": "No speech was found in the recording."}
                )  # fmt: skip
                status, error = "failed", "No speech was found in the recording."
                stages += [
                    {"name": n, "status": "pending", "progress": 0.0, "seconds": None,
                     "error": None}
                    for n in STAGES[i + 1 :]
                ]  # fmt: skip
                overall += WEIGHTS[i] * 0.5
                break
            st = "done" if progress >= 1 else "running" if progress > 0 else "pending"
            stages.append(
                {"name": name, "status": st, "progress": round(progress, 3),
                 "seconds": round(self.stage_seconds, 2) if st == "done" else None,
                 "error": None}
            )  # fmt: skip
            overall += WEIGHTS[i] * progress
        if status == "running" and all(s["status"] == "done" for s in stages):
            status = "done"
        if status == "running" and elapsed <= 0:
            status = "queued"
        finished = None
        if status in ("done", "failed"):
            finished = iso(self.created_wall + elapsed)
        return {
            "id": self.id,
            "status": status,
            "filename": self.filename,
            "created_at": iso(self.created_wall),
            "finished_at": finished,
            "progress": round(min(1.0, overall), 4),
            "media": {"format_name": "mov,mp4", "duration": 212.5, "size": 1, "has_video": True,
                      "has_audio": True, "width": 1280, "height": 720},
            "error": error,
            "stages": stages,
        }  # fmt: skip


class FakeRepurposer:
    """The fake service. ``origin`` is set once it listens."""

    def __init__(self, ui_dir: Path, files: dict[str, Path], work: Path) -> None:
        self.ui_dir = ui_dir
        self.files = files  # name under /v1/files/ -> file
        self.work = work
        self.origin = ""
        self.key = KEY
        self.reset()

    def reset(self) -> None:
        self.uploads: dict[str, Upload] = {}
        self.jobs: dict[str, Job] = {}
        self.calls: list[Call] = []
        self.max_size = 1 << 30
        self.advertise_max_size = True  # Tus-Max-Size in OPTIONS (else only POST answers 413)
        self.active_patches = 0
        self.read_delay = 0.0  # seconds slept per 64 KiB of PATCH body (a slower network)
        self.patch_count = 0
        # PATCH number (1-based) -> "500" | "reset" | "cut" (after keeping half of its bytes)
        self.patch_faults: dict[int, str] = {}
        self.hold_patches_from: int | None = None  # PATCH number from which PATCHes wait...
        self.release = asyncio.Event()  # ...until this is set
        self.reject_media = False
        self.stage_seconds = 0.3
        self.fail_stage: str | None = None
        self.drop_events_after: int | None = None  # first stream aborted after N events
        self.event_connections = 0
        self.regen_delay = 0.6
        self.regen_never = False
        self.tasks: set[asyncio.Task[None]] = set()

    # -- helpers for tests --------------------------------------------------------------------
    def of(self, method: str, path_prefix: str = "") -> list[Call]:
        return [c for c in self.calls if c.method == method and c.path.startswith(path_prefix)]

    def add_job(
        self, filename: str = "talk.mp4", done: bool = True, aspects: list[str] | None = None
    ) -> Job:
        now = time.monotonic()
        started = now - 60 if done else now
        job = Job(
            id=uuid.uuid4().hex[:12],
            filename=filename,
            request={"aspects": aspects or ["16:9", "9:16"]},
            created=started,
            created_wall=time.time() - (now - started),
            stage_seconds=self.stage_seconds,
            fail_stage=self.fail_stage,
            assets={k: {"kind": k, "version": 1, "edited": False, "quotes": [], **v}
                    for k, v in json.loads(json.dumps(ASSETS)).items()},
        )  # fmt: skip
        self.jobs[job.id] = job
        return job

    def results(self, job: Job) -> dict[str, Any]:
        aspects = job.request.get("aspects") or ["16:9", "9:16"]
        clips = []
        for hl in HIGHLIGHTS[: max(1, min(len(HIGHLIGHTS), int(job.request.get("clips", 5))))]:
            for aspect in aspects:
                a = aspect.replace(":", "x")
                w, h = (320, 180) if aspect == "16:9" else (180, 320)
                clips.append(
                    {"highlight": hl["index"], "aspect": aspect,
                     "url": f"/v1/files/clip-{a}.mp4?h={hl['index']}&{SIG}",
                     "thumbnail_url": f"/v1/files/thumb-{a}.jpg?h={hl['index']}&{SIG}",
                     "width": w, "height": h, "duration": 3.0}
                )  # fmt: skip
        return {
            "transcript": {"language": "en", "duration": 212.5, "sentences": 24,
                           "text": "Welcome back to the show, today we are talking about coffee."},
            "chapters": CHAPTERS,
            "highlights": HIGHLIGHTS,
            "clips": clips,
            "assets": job.assets,
            "exports": {k: f"/v1/files/export.{k}?{SIG}"
                        for k in ("srt", "vtt", "txt", "md", "docx", "zip")},
        }  # fmt: skip

    # -- the app --------------------------------------------------------------------------------
    def app(self) -> web.Application:
        app = web.Application(middlewares=[self.middleware], client_max_size=64 * 1024 * 1024)
        r = app.router
        r.add_get("/", self.index)
        r.add_static("/static", self.ui_dir / "static")
        r.add_route("OPTIONS", "/v1/uploads", self.tus_options)
        r.add_post("/v1/uploads", self.tus_create)
        r.add_route("HEAD", "/v1/uploads/{id}", self.tus_head)
        r.add_patch("/v1/uploads/{id}", self.tus_patch)
        r.add_delete("/v1/uploads/{id}", self.tus_delete)
        r.add_get("/v1/uploads/{id}", self.upload_info, allow_head=False)
        r.add_post("/v1/jobs", self.create_job)
        r.add_get("/v1/jobs", self.list_jobs)
        r.add_get("/v1/jobs/{id}", self.get_job)
        r.add_get("/v1/jobs/{id}/events", self.events)
        r.add_get("/v1/jobs/{id}/results", self.get_results)
        r.add_get("/v1/jobs/{id}/assets/{kind}", self.get_asset)
        r.add_put("/v1/jobs/{id}/assets/{kind}", self.put_asset)
        r.add_post("/v1/jobs/{id}/assets/{kind}/regenerate", self.regenerate)
        r.add_get("/v1/files/{name}", self.file)
        return app

    @web.middleware
    async def middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        body = None
        if request.content_type == "application/json" and request.can_read_body:
            body = await request.json()
        headers = {k.lower(): v for k, v in request.headers.items() if k.lower() in RECORDED}
        self.calls.append(Call(request.method, request.path, headers, body))
        request[JSON] = body
        path = request.path
        signed_in = request.headers.get("Authorization") == f"Bearer {self.key}"
        needs_key = path.startswith("/v1/") and not path.startswith("/v1/files/")
        if needs_key and request.method != "OPTIONS" and not signed_in:
            return problem(401, "Unauthorized", "Missing or invalid API key.", "unauthorized")
        response = await handler(request)
        if path == "/" or path.startswith("/static/"):
            response.headers["Cache-Control"] = "no-store"
        return response

    async def index(self, request: web.Request) -> web.Response:
        html = (self.ui_dir / "index.html").read_text(encoding="utf-8")
        return web.Response(
            text=html,
            content_type="text/html",
            headers={"Content-Security-Policy": CSP, "Cache-Control": "no-store"},
        )

    # -- tus ------------------------------------------------------------------------------------
    def _tus(self, **headers: str) -> dict[str, str]:
        return {"Tus-Resumable": "1.0.0", **headers}

    async def tus_options(self, request: web.Request) -> web.Response:
        headers = self._tus(**{"Tus-Version": "1.0.0", "Tus-Extension": "creation,termination"})
        if self.advertise_max_size:
            headers["Tus-Max-Size"] = str(self.max_size)
        return web.Response(status=204, headers=headers)

    async def tus_create(self, request: web.Request) -> web.Response:
        if request.headers.get("Tus-Resumable") != "1.0.0":
            return problem(412, "Precondition Failed", "Tus-Resumable 1.0.0 needed.", "tus")
        length = int(request.headers["Upload-Length"])
        if length > self.max_size:
            detail = f"The upload is {length} bytes; the limit is {self.max_size} bytes."
            return problem(413, "Payload Too Large", detail, "upload_too_large")
        meta = {}
        for pair in request.headers.get("Upload-Metadata", "").split(","):
            if pair.strip():
                k, _, v = pair.strip().partition(" ")
                meta[k] = base64.b64decode(v).decode("utf-8")
        upload_id = uuid.uuid4().hex
        path = self.work / f"upload-{upload_id}"
        path.write_bytes(b"")
        self.uploads[upload_id] = Upload(upload_id, path, length, meta.get("filename", ""))
        return web.Response(status=201, headers=self._tus(Location=f"/v1/uploads/{upload_id}"))

    async def tus_head(self, request: web.Request) -> web.Response:
        up = self.uploads.get(request.match_info["id"])
        if up is None:
            return web.Response(status=404, headers=self._tus())
        return web.Response(
            status=200,
            headers=self._tus(
                **{"Upload-Offset": str(up.offset), "Upload-Length": str(up.length),
                   "Cache-Control": "no-store"}
            ),
        )  # fmt: skip

    async def tus_patch(self, request: web.Request) -> web.StreamResponse:
        self.active_patches += 1
        try:
            return await self._patch(request)
        finally:
            self.active_patches -= 1

    async def _patch(self, request: web.Request) -> web.StreamResponse:
        up = self.uploads.get(request.match_info["id"])
        if up is None:
            return problem(404, "Not Found", "No such upload.", "not_found")
        if request.headers.get("Content-Type") != "application/offset+octet-stream":
            return problem(415, "Unsupported Media Type", "Wrong content type.", "tus")
        offset = int(request.headers.get("Upload-Offset", "-1"))
        if offset != up.offset:
            return problem(409, "Conflict", f"Offset is {up.offset}, not {offset}.", "offset")
        self.patch_count += 1
        number = self.patch_count
        fault = self.patch_faults.pop(number, None)
        if self.hold_patches_from is not None and number >= self.hold_patches_from:
            await self.release.wait()
            if up.id not in self.uploads:
                return web.Response(status=404)
        declared = int(request.headers.get("Content-Length", "0"))
        keep = declared // 2 if fault else None
        written = 0
        try:
            with up.path.open("r+b") as f:
                f.seek(offset)
                async for chunk in request.content.iter_chunked(64 * 1024):
                    if keep is not None:
                        chunk = chunk[: max(0, keep - written)]
                    if self.read_delay:
                        await asyncio.sleep(self.read_delay)
                    if chunk:
                        f.write(chunk)
                        f.flush()
                        written += len(chunk)
                        up.offset = offset + written
                    if keep is not None and written >= keep:
                        transport = request.transport
                        assert transport is not None
                        if fault == "reset":  # the connection dies mid-body
                            transport.abort()
                            return web.Response(status=500)
                        if fault == "cut":  # ... or half way through the answer
                            transport.write(
                                b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 100\r\n\r\nupstr"
                            )
                            await asyncio.sleep(0.05)
                            transport.abort()
                            return web.Response(status=500)
                        # "500": swallow the rest of the body, then answer an error
                        await request.content.read()
                        return problem(500, "Server Error", "Storage hiccup.", "internal")
        except (ConnectionError, asyncio.CancelledError, OSError):
            return web.Response(status=500)
        headers = self._tus(**{"Upload-Offset": str(up.offset)})
        if up.offset >= up.length:
            if self.reject_media:
                del self.uploads[up.id]
                return problem(
                    422, "Unprocessable Content",
                    "This file is not audio or video (ffprobe found no media streams).",
                    "not_media",
                )  # fmt: skip
            up.status = "ready"
        return web.Response(status=204, headers=headers)

    async def tus_delete(self, request: web.Request) -> web.Response:
        self.uploads.pop(request.match_info["id"], None)
        return web.Response(status=204, headers=self._tus())

    async def upload_info(self, request: web.Request) -> web.Response:
        up = self.uploads.get(request.match_info["id"])
        if up is None:
            return problem(404, "Not Found", "No such upload.", "not_found")
        return web.json_response(up.json())

    # -- jobs -----------------------------------------------------------------------------------
    def _job(self, request: web.Request) -> Job:
        job = self.jobs.get(request.match_info["id"])
        if job is None:
            raise web.HTTPNotFound(
                text=json.dumps({"title": "Not Found", "status": 404, "detail": "No such job.",
                                 "code": "not_found"}),
                content_type="application/problem+json",
            )  # fmt: skip
        return job

    async def create_job(self, request: web.Request) -> web.Response:
        body = request[JSON] or {}
        up = self.uploads.get(body.get("upload_id", ""))
        if up is None or up.status != "ready":
            return problem(422, "Unprocessable Content", "Unknown upload.", "upload_not_ready")
        job = self.add_job(up.filename, done=False)
        job.request = body
        job.created = time.monotonic() + 0.2  # a moment in the queue
        return web.json_response(job.state(), status=201)

    async def list_jobs(self, request: web.Request) -> web.Response:
        jobs = sorted(self.jobs.values(), key=lambda j: j.created_wall, reverse=True)
        return web.json_response([j.state() for j in jobs])

    async def get_job(self, request: web.Request) -> web.Response:
        return web.json_response(self._job(request).state())

    async def events(self, request: web.Request) -> web.StreamResponse:
        job = self._job(request)
        self.event_connections += 1
        connection = self.event_connections
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store"}
        )
        await response.prepare(request)
        sent = 0

        async def send(kind: str, data: Any) -> None:
            nonlocal sent
            await response.write(f"event: {kind}\ndata: {json.dumps(data)}\n\n".encode())
            sent += 1

        await response.write(b": hello\n\n")
        state = job.state()
        last: dict[str, tuple[str, float]] = {}
        for stage in state["stages"]:
            await send("progress", self._progress(stage, state))
            last[stage["name"]] = (stage["status"], stage["progress"])
        with contextlib.suppress(ConnectionError):
            while True:
                if state["status"] in ("done", "failed"):
                    await send(state["status"], state)
                    break
                if (
                    connection == 1
                    and self.drop_events_after is not None
                    and sent >= self.drop_events_after
                ):
                    assert request.transport is not None
                    request.transport.abort()
                    return response
                await asyncio.sleep(0.05)
                state = job.state()
                for stage in state["stages"]:
                    now = (stage["status"], stage["progress"])
                    if last.get(stage["name"]) != now:
                        last[stage["name"]] = now
                        await send("progress", self._progress(stage, state))
        return response

    @staticmethod
    def _progress(stage: dict[str, Any], state: dict[str, Any]) -> dict[str, Any]:
        return {"stage": stage["name"], "status": stage["status"],
                "progress": stage["progress"], "overall": state["progress"]}  # fmt: skip

    async def get_results(self, request: web.Request) -> web.Response:
        job = self._job(request)
        if job.state()["status"] != "done":
            return problem(409, "Conflict", "The job is not done yet.", "not_done")
        return web.json_response(self.results(job))

    def _asset(self, request: web.Request) -> dict[str, Any]:
        job = self._job(request)
        asset = job.assets.get(request.match_info["kind"])
        if asset is None:
            raise web.HTTPNotFound()
        return asset

    async def get_asset(self, request: web.Request) -> web.Response:
        return web.json_response(self._asset(request))

    async def put_asset(self, request: web.Request) -> web.Response:
        asset = self._asset(request)
        body = request[JSON] or {}
        asset.update(
            title=body.get("title", asset["title"]), body=body["body"],
            version=asset["version"] + 1, edited=True,
        )  # fmt: skip
        return web.json_response(asset)

    async def regenerate(self, request: web.Request) -> web.Response:
        asset = self._asset(request)
        instruction = (request[JSON] or {}).get("instruction", "")

        async def later() -> None:
            await asyncio.sleep(self.regen_delay)
            if self.regen_never:
                return
            asset.update(
                body=f"Regenerated ({instruction or 'no instruction'}): {asset['body']}",
                version=asset["version"] + 1, edited=False, instruction=instruction,
            )  # fmt: skip

        task = asyncio.get_running_loop().create_task(later())
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return web.json_response({"kind": asset["kind"], "status": "queued"}, status=202)

    async def file(self, request: web.Request) -> web.StreamResponse:
        if request.query.get("sig") != SIG.split("=")[1]:
            return problem(403, "Forbidden", "Bad or expired signature.", "bad_signature")
        path = self.files.get(request.match_info["name"])
        if path is None:
            raise web.HTTPNotFound()
        return web.FileResponse(path)
