"""The repurposer's REST API (see API.md): jobs, live events, results, files and texts."""

from __future__ import annotations

import json
import mimetypes
import time
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Body, Depends, Query, Request
from fastapi.responses import FileResponse, RedirectResponse, StreamingResponse
from pydantic import BaseModel, Field, HttpUrl, field_validator

from services.repurposer import state
from services.repurposer.events import job_stream
from services.repurposer.model import ASSET_KINDS, Asset, AssetKind, BrandStyle
from services.repurposer.storage import Storage, StorageError, sign, verify
from services.repurposer.workspaces import (
    Workspace,
    current_workspace,
    issue_key,
    require_local_dev,
    webhook_secret,
    workspace_style,
)
from shared.billing import Grant, require_entitlement, whole_units
from shared.config import Settings
from shared.web.errors import Problem

router = APIRouter(prefix="/v1", tags=["repurposer"])
files_router = APIRouter(tags=["files"])
LINK_SECONDS = 3600
# The workspace's plan: 402 once its minutes are used up (see shared.billing).
_minutes_left = require_entitlement("repurposer", tenant=current_workspace, meter="minutes")


class JobRequest(BaseModel):
    upload_id: str = Field(min_length=1, max_length=64)
    clips: int | None = Field(None, ge=1, le=10, description="Clips to render (default 5).")
    aspects: list[str] | None = Field(None, description='"16:9" and/or "9:16".')
    style: BrandStyle | None = None
    language: str | None = Field(None, min_length=2, max_length=5, pattern=r"^[a-z]{2,3}$")
    callback_url: HttpUrl | None = Field(None, description="POSTed when the job ends.")

    @field_validator("aspects")
    @classmethod
    def _known_aspects(cls, value: list[str] | None) -> list[str] | None:
        if value is not None:
            unknown = set(value) - {"16:9", "9:16"}
            if unknown or not value:
                raise ValueError('aspects are "16:9" and/or "9:16"')
            return list(dict.fromkeys(value))
        return value


class AssetEdit(BaseModel):
    title: str = Field("", max_length=300)
    body: str = Field(min_length=1, max_length=100_000)


class RegenerateRequest(BaseModel):
    instruction: str = Field("", max_length=500, description='e.g. "more casual"')


def _state(request: Request) -> tuple[Any, Storage, Settings]:
    app = request.app.state
    return app.pool, app.storage, app.settings


async def _job(request: Request, job_id: str, workspace: str) -> dict[str, Any]:
    pool, _, _ = _state(request)
    job = await state.get_job(pool, job_id, workspace)
    if job is None:
        raise Problem(404, "No such job in this workspace.", code="not_found")
    return job


@router.post("/jobs", status_code=201, summary="Start repurposing an upload")
async def create_job(
    request: Request,
    body: JobRequest,
    workspace: Workspace,
    grant: Annotated[Grant, Depends(_minutes_left)],
) -> dict:
    pool, _, _ = _state(request)
    async with pool.connection() as conn:
        cur = await conn.execute(
            "SELECT status, error, media FROM rp_uploads WHERE id = %s AND workspace_id = %s",
            (body.upload_id, workspace),
        )
        upload = await cur.fetchone()
    if upload is None:
        raise Problem(404, "No such upload in this workspace.", code="not_found")
    if upload["status"] == "receiving":
        raise Problem(409, "The upload is not complete; resume it first.", code="upload_incomplete")
    if upload["status"] == "failed":
        raise Problem(
            422,
            (upload["error"] or {}).get("detail", "The upload was refused."),
            code=(upload["error"] or {}).get("code", "upload_failed"),
        )
    # The plan: the whole recording must fit the minutes left; paid features need a paid plan.
    grant.require_quota("minutes", whole_units((upload["media"] or {}).get("duration", 0) / 60))
    aspects = body.aspects
    if not grant.allows("9x16_clips"):
        if aspects and "9:16" in aspects:
            grant.require_feature("9x16_clips")
        aspects = ["16:9"]  # the default formats, less the paid one
    if body.style is not None:
        grant.require_feature("custom_branding")
    if body.callback_url is not None:
        grant.require_feature("webhooks")
    style = body.style or await workspace_style(pool, workspace)
    options = {
        "clips": body.clips,
        "aspects": aspects,
        "language": body.language,
        "style": style.model_dump(),
    }
    callback = str(body.callback_url) if body.callback_url else None
    # The job row and its queue entry commit together: no job without work, or work without job.
    async with pool.connection() as conn, conn.transaction():
        job_id = await state.create_job(conn, workspace, body.upload_id, options, callback)
        task = request.app.state.jobs.configure_task("repurposer:run", connection=conn)
        await task.defer_async(job_id=job_id)
    return await _job(request, job_id, workspace)


@router.get("/jobs", summary="Recent jobs")
async def list_jobs(
    request: Request, workspace: Workspace, limit: Annotated[int, Query(ge=1, le=200)] = 50
) -> list[dict]:
    pool, _, _ = _state(request)
    return await state.list_jobs(pool, workspace, limit)


@router.get("/jobs/{job_id}", summary="A job and its stages")
async def get_job(request: Request, job_id: str, workspace: Workspace) -> dict:
    return await _job(request, job_id, workspace)


@router.get("/jobs/{job_id}/events", summary="Live progress (Server-Sent Events)")
async def job_events(request: Request, job_id: str, workspace: Workspace) -> StreamingResponse:
    await _job(request, job_id, workspace)
    pool, _, _ = _state(request)
    stream = job_stream(request.app.state.hub, pool, job_id, workspace)
    return StreamingResponse(
        stream,
        media_type="text/event-stream",
        headers={
            "Cache-Control": "no-store",
            "X-Accel-Buffering": "no",
        },
    )


def file_url(settings: Settings, storage: Storage, job_id: str, path: str) -> str:
    key = f"jobs/{job_id}/{path}"
    direct = storage.presigned_url(key, LINK_SECONDS)
    if direct:
        return direct
    expires = int(time.time()) + LINK_SECONDS
    signature = sign(settings.secret_key.get_secret_value(), key, expires)
    return f"/v1/files/{job_id}/{quote(path)}?expires={expires}&signature={signature}"


@router.get("/jobs/{job_id}/results", summary="Clips, chapters, highlights, texts, exports")
async def job_results(request: Request, job_id: str, workspace: Workspace) -> dict:
    job = await _job(request, job_id, workspace)
    if job["status"] != "done":
        raise Problem(
            409, f"The job is {job['status']}; results come when it is done.", code="not_done"
        )
    pool, storage, settings = _state(request)

    def load(name: str) -> Any:
        return json.loads(storage.local(f"jobs/{job_id}/{name}").read_text())

    transcript = load("transcript.json")
    clips = [
        {
            **clip,
            "url": file_url(settings, storage, job_id, clip["path"]),
            "thumbnail_url": file_url(settings, storage, job_id, clip["thumbnail"]),
        }
        for clip in load("clips.json")
    ]
    exports = {
        "srt": "transcript.srt",
        "vtt": "transcript.vtt",
        "txt": "transcript.txt",
        "md": "transcript.md",
        "docx": "transcript.docx",
        "zip": "repurposed.zip",
    }
    assets = await state.get_assets(pool, job_id)
    return {
        "transcript": {
            "language": transcript["language"],
            "duration": transcript["duration"],
            "sentences": len(transcript["sentences"]),
            "text": " ".join(s["text"] for s in transcript["sentences"]),
        },
        "chapters": load("chapters.json"),
        "highlights": load("highlights.json"),
        "clips": clips,
        "assets": {kind: asset.model_dump() for kind, asset in assets.items()},
        "exports": {
            k: file_url(settings, storage, job_id, f"exports/{v}") for k, v in exports.items()
        },
    }


@router.get("/jobs/{job_id}/transcript", summary="The full transcript with word timings")
async def job_transcript(request: Request, job_id: str, workspace: Workspace) -> dict:
    await _job(request, job_id, workspace)
    _, storage, _ = _state(request)
    try:
        return json.loads(storage.local(f"jobs/{job_id}/transcript.json").read_text())
    except StorageError:
        raise Problem(409, "The transcript is not ready yet.", code="not_ready") from None


def _kind(kind: str) -> AssetKind:
    if kind not in ASSET_KINDS:
        raise Problem(
            404, f"Unknown text {kind!r}; one of {', '.join(ASSET_KINDS)}.", code="unknown_asset"
        )
    return kind  # type: ignore[return-value]


@router.get("/jobs/{job_id}/assets/{kind}", summary="One written text (latest version)")
async def get_asset(request: Request, job_id: str, kind: str, workspace: Workspace) -> dict:
    await _job(request, job_id, workspace)
    pool, _, _ = _state(request)
    asset = (await state.get_assets(pool, job_id)).get(_kind(kind))
    if asset is None:
        raise Problem(404, "This text has not been written yet.", code="not_ready")
    return asset.model_dump()


@router.put("/jobs/{job_id}/assets/{kind}", summary="Save an edited text")
async def edit_asset(
    request: Request, job_id: str, kind: str, edit: AssetEdit, workspace: Workspace
) -> dict:
    await _job(request, job_id, workspace)
    pool, _, _ = _state(request)
    current = (await state.get_assets(pool, job_id)).get(_kind(kind))
    if current is None:
        raise Problem(404, "This text has not been written yet.", code="not_ready")
    edited = current.model_copy(
        update={"title": edit.title or current.title, "body": edit.body, "edited": True}
    )
    return (await state.save_asset(pool, job_id, Asset.model_validate(edited))).model_dump()


@router.post(
    "/jobs/{job_id}/assets/{kind}/regenerate",
    status_code=202,
    summary="Write a new version of one text",
)
async def regenerate_asset(
    request: Request,
    job_id: str,
    kind: str,
    workspace: Workspace,
    body: Annotated[RegenerateRequest | None, Body()] = None,
) -> dict:
    job = await _job(request, job_id, workspace)
    if job["status"] != "done":
        raise Problem(409, "Texts can be regenerated once the job is done.", code="not_done")
    await request.app.state.jobs.configure_task("repurposer:regenerate").defer_async(
        job_id=job_id, kind=_kind(kind), instruction=body.instruction if body else ""
    )
    return {"kind": kind, "status": "queued"}


@router.get("/workspace", summary="This workspace and its webhook secret")
async def workspace_info(request: Request, workspace: Workspace) -> dict:
    pool, _, settings = _state(request)
    return {
        "id": workspace,
        "style": (await workspace_style(pool, workspace)).model_dump(),
        "webhook_secret": webhook_secret(settings, workspace),
    }


@router.post("/dev/sign-in", include_in_schema=False)
async def dev_sign_in(request: Request) -> dict:
    """A key for the local workspace, for the web UI on this machine in development only."""
    require_local_dev(request)
    pool, _, _ = _state(request)
    from services.repurposer.workspaces import LOCAL_WORKSPACE, create_workspace

    await create_workspace(pool, LOCAL_WORKSPACE, "Local workspace")
    return {"key": await issue_key(pool, LOCAL_WORKSPACE, name="web ui (local sign-in)")}


@files_router.get("/v1/files/{job_id}/{path:path}", summary="A job's file (signed link)")
async def job_file(request: Request, job_id: str, path: str, expires: int, signature: str):
    _, storage, settings = _state(request)
    key = f"jobs/{job_id}/{path}"
    if not verify(settings.secret_key.get_secret_value(), key, expires, signature):
        raise Problem(
            403, "This link is invalid or has expired; reload the results.", code="bad_link"
        )
    direct = storage.presigned_url(key, LINK_SECONDS)
    if direct:
        return RedirectResponse(direct)
    try:
        local = storage.local(key)
    except StorageError:
        raise Problem(404, "No such file.", code="not_found") from None
    media_type = mimetypes.guess_type(local.name)[0] or "application/octet-stream"
    download = local.suffix in {".zip", ".docx", ".srt", ".vtt", ".txt", ".md"}
    return FileResponse(local, media_type=media_type, filename=local.name if download else None)
