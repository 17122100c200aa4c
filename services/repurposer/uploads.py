"""Resumable uploads over the tus 1.0.0 protocol (core, creation, termination).

Bytes stream from the request straight into a ``.part`` file: nothing is held in memory and
a dropped connection keeps what arrived, so the client resumes from ``HEAD``'s offset. When
the last byte lands the file is probed (``media.probe.validate``); unusable media is deleted
and answered with 422 and a stable ``code``, so no job ever starts from a bad upload.

Only one ``PATCH`` per upload runs at a time in a process (a lock), and the stored offset is
advanced with a compare-and-set, so two replicas racing on one upload cannot both win.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import os
import unicodedata
import uuid
import weakref
from typing import Any

from fastapi import APIRouter, Request, Response
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool
from starlette.requests import ClientDisconnect

from services.repurposer.media.errors import MediaError
from services.repurposer.media.probe import validate
from services.repurposer.storage import Storage
from services.repurposer.workspaces import Workspace
from shared.config import Settings
from shared.web.errors import Problem

logger = logging.getLogger(__name__)
router = APIRouter(prefix="/v1/uploads", tags=["uploads"])

TUS_VERSION = "1.0.0"
TUS_HEADERS = {"Tus-Resumable": TUS_VERSION}
# Locks live as long as a request holds them.
_locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()


def _lock(upload_id: str) -> asyncio.Lock:
    lock = _locks.get(upload_id)
    if lock is None:
        lock = _locks[upload_id] = asyncio.Lock()
    return lock


def source_key(upload_id: str) -> str:
    return f"uploads/{upload_id}/source"


def _part_key(upload_id: str) -> str:
    return f"uploads/{upload_id}/source.part"


def display_name(raw: str) -> str:
    """The client's file name as display text: no directories, no control characters."""
    name = raw.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in name if unicodedata.category(c)[0] != "C").strip()
    return name[:255] or "upload"


def parse_metadata(header: str | None) -> dict[str, str]:
    """``Upload-Metadata: key base64value,key2 base64value2``."""
    metadata: dict[str, str] = {}
    for pair in filter(None, (p.strip() for p in (header or "").split(","))):
        key, _, value = pair.partition(" ")
        try:
            metadata[key] = base64.b64decode(value, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise Problem(
                400, f"Upload-Metadata value for {key!r} is not base64 UTF-8.", code="bad_metadata"
            ) from None
    return metadata


def _check_tus(request: Request) -> None:
    if request.headers.get("tus-resumable") != TUS_VERSION:
        raise Problem(
            412,
            f"Send 'Tus-Resumable: {TUS_VERSION}'.",
            code="tus_version",
            headers={"Tus-Version": TUS_VERSION},
        )


def _max_bytes(settings: Settings) -> int:
    return settings.repurposer_max_upload_mb * 1024 * 1024


def _deps(request: Request) -> tuple[AsyncConnectionPool, Storage, Settings]:
    state = request.app.state
    return state.pool, state.storage, state.settings


async def _get(pool: AsyncConnectionPool, workspace: str, upload_id: str) -> dict[str, Any]:
    async with pool.connection() as conn:
        cur = await conn.execute(
            'SELECT id, filename, length, "offset", status, media, error, created_at '
            "FROM rp_uploads WHERE id = %s AND workspace_id = %s",
            (upload_id, workspace),
        )
        row = await cur.fetchone()
    if row is None:
        raise Problem(404, "No such upload in this workspace.", code="not_found")
    return row


@router.options("", include_in_schema=False)
async def tus_options(request: Request) -> Response:
    settings: Settings = request.app.state.settings
    return Response(
        status_code=204,
        headers={
            **TUS_HEADERS,
            "Tus-Version": TUS_VERSION,
            "Tus-Extension": "creation,termination",
            "Tus-Max-Size": str(_max_bytes(settings)),
        },
    )


@router.post("", status_code=201, summary="Create an upload (tus creation)")
async def create_upload(request: Request, workspace: Workspace) -> Response:
    _check_tus(request)
    pool, storage, settings = _deps(request)
    try:
        length = int(request.headers["upload-length"])
        if length < 0:
            raise ValueError
    except (KeyError, ValueError):
        raise Problem(
            400, "Send the file size as 'Upload-Length: <bytes>'.", code="upload_length"
        ) from None
    if length == 0:
        raise Problem(422, "The file is empty.", code="empty")
    if length > _max_bytes(settings):
        raise Problem(
            413,
            f"The file is {length / 2**20:.0f} MiB; the limit is "
            f"{settings.repurposer_max_upload_mb} MiB.",
            code="upload_too_large",
        )
    metadata = parse_metadata(request.headers.get("upload-metadata"))
    upload_id = uuid.uuid4().hex
    part = storage.workpath(_part_key(upload_id))
    part.touch()
    async with pool.connection() as conn:
        await conn.execute(
            "INSERT INTO rp_uploads (id, workspace_id, filename, length) VALUES (%s, %s, %s, %s)",
            (upload_id, workspace, display_name(metadata.get("filename", "")), length),
        )
    return Response(
        status_code=201,
        headers={
            **TUS_HEADERS,
            "Location": f"/v1/uploads/{upload_id}",
            "Upload-Offset": "0",
        },
    )


@router.head("/{upload_id}", summary="Upload offset (tus core)")
async def upload_offset(request: Request, upload_id: str, workspace: Workspace) -> Response:
    pool, _, _ = _deps(request)
    row = await _get(pool, workspace, upload_id)
    return Response(
        status_code=200,
        headers={
            **TUS_HEADERS,
            "Upload-Offset": str(row["offset"]),
            "Upload-Length": str(row["length"]),
            "Cache-Control": "no-store",
        },
    )


@router.get("/{upload_id}", summary="Upload state")
async def upload_state(request: Request, upload_id: str, workspace: Workspace) -> dict:
    pool, _, _ = _deps(request)
    row = await _get(pool, workspace, upload_id)
    return {k: row[k] for k in ("id", "filename", "length", "offset", "status", "media", "error")}


@router.patch("/{upload_id}", status_code=204, summary="Append bytes (tus core)")
async def append_bytes(request: Request, upload_id: str, workspace: Workspace) -> Response:
    _check_tus(request)
    if request.headers.get("content-type") != "application/offset+octet-stream":
        raise Problem(
            415, "Send 'Content-Type: application/offset+octet-stream'.", code="content_type"
        )
    pool, storage, settings = _deps(request)
    async with _lock(upload_id):
        row = await _get(pool, workspace, upload_id)
        if row["status"] != "receiving":
            raise Problem(409, f"This upload is {row['status']}.", code="upload_closed")
        try:
            claimed = int(request.headers["upload-offset"])
        except (KeyError, ValueError):
            raise Problem(400, "Send 'Upload-Offset'.", code="upload_offset") from None
        if claimed != row["offset"]:
            raise Problem(
                409,
                f"Upload-Offset is {claimed}, the server has {row['offset']}.",
                code="offset_mismatch",
                headers={"Upload-Offset": str(row["offset"])},
            )
        offset = await _receive(
            request, storage.workpath(_part_key(upload_id)), row["offset"], row["length"]
        )
        async with pool.connection() as conn:
            cur = await conn.execute(
                'UPDATE rp_uploads SET "offset" = %s, updated_at = now() '
                "WHERE id = %s AND \"offset\" = %s AND status = 'receiving' RETURNING id",
                (offset, upload_id, row["offset"]),
            )
            if await cur.fetchone() is None:
                raise Problem(409, "Another request moved this upload on.", code="conflict")
        if offset == row["length"]:
            await _finish(pool, storage, settings, upload_id)
    return Response(status_code=204, headers={**TUS_HEADERS, "Upload-Offset": str(offset)})


async def _receive(request: Request, path, offset: int, length: int) -> int:
    """Write the body at ``offset``; keep what arrived if the client goes away."""
    fd = os.open(path, os.O_WRONLY)
    try:
        os.lseek(fd, offset, os.SEEK_SET)
        try:
            async for chunk in request.stream():
                if offset + len(chunk) > length:
                    raise Problem(413, "The body runs past Upload-Length.", code="too_much_data")
                os.write(fd, chunk)
                offset += len(chunk)
        except ClientDisconnect:
            logger.info("upload cut off at %d of %d bytes; it can resume", offset, length)
        os.ftruncate(fd, offset)  # drop bytes past the offset a refused request wrote
        os.fsync(fd)
    finally:
        os.close(fd)
    return offset


async def _finish(
    pool: AsyncConnectionPool, storage: Storage, settings: Settings, upload_id: str
) -> None:
    part = storage.workpath(_part_key(upload_id))
    try:
        info = await asyncio.to_thread(
            validate,
            part,
            min_duration=settings.repurposer_min_duration,
            max_duration=settings.repurposer_max_duration,
        )
    except MediaError as exc:
        storage.delete_prefix(f"uploads/{upload_id}")
        async with pool.connection() as conn:
            await conn.execute(
                "UPDATE rp_uploads SET status = 'failed', error = %s, updated_at = now() "
                "WHERE id = %s",
                (Jsonb({"code": exc.code, "detail": str(exc)}), upload_id),
            )
        raise Problem(422, str(exc), code=exc.code) from None
    part.replace(storage.workpath(source_key(upload_id)))
    await asyncio.to_thread(storage.commit, source_key(upload_id))
    async with pool.connection() as conn:
        await conn.execute(
            "UPDATE rp_uploads SET status = 'ready', media = %s, updated_at = now() WHERE id = %s",
            (Jsonb(info.model_dump()), upload_id),
        )


@router.delete("/{upload_id}", status_code=204, summary="Discard an upload (tus termination)")
async def delete_upload(request: Request, upload_id: str, workspace: Workspace) -> Response:
    _check_tus(request)
    pool, storage, _ = _deps(request)
    await _get(pool, workspace, upload_id)
    async with pool.connection() as conn:
        cur = await conn.execute("SELECT 1 FROM rp_jobs WHERE upload_id = %s LIMIT 1", (upload_id,))
        if await cur.fetchone():
            raise Problem(409, "A job uses this upload; delete the job first.", code="in_use")
        await conn.execute("DELETE FROM rp_uploads WHERE id = %s", (upload_id,))
    storage.delete_prefix(f"uploads/{upload_id}")
    return Response(status_code=204, headers=TUS_HEADERS)


async def expire_stale_uploads(pool: AsyncConnectionPool, storage: Storage, hours: float) -> int:
    """Delete unfinished or failed uploads untouched for ``hours`` (and unused by jobs)."""
    async with pool.connection() as conn:
        cur = await conn.execute(
            "DELETE FROM rp_uploads u WHERE status <> 'ready' "
            "AND updated_at < now() - make_interval(secs => %s) "
            "AND NOT EXISTS (SELECT 1 FROM rp_jobs j WHERE j.upload_id = u.id) RETURNING id",
            (hours * 3600,),
        )
        gone = [r["id"] for r in await cur.fetchall()]
    for upload_id in gone:
        storage.delete_prefix(f"uploads/{upload_id}")
    return len(gone)
