"""Where uploads and outputs live: local disk by default, an S3-compatible bucket if configured.

Every object has a key (``uploads/<id>/source``, ``jobs/<id>/clips/0-9x16.mp4``). Work always
happens on local files: ``workpath(key)`` is where a stage writes, ``commit(key)`` publishes
that file under its key, and ``local(key)`` gives a local copy to read. On local storage the
three are the same file, so nothing is copied; on S3 the local side is a cache.

Keys are built by this service from ids it generated (never from client file names), and
``_safe_key`` refuses anything that could climb out of the root.
"""

from __future__ import annotations

import hashlib
import hmac
import shutil
import time
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Protocol
from urllib.parse import urlsplit

from shared.config import Settings


class StorageError(RuntimeError):
    pass


def _safe_key(key: str) -> str:
    path = PurePosixPath(key)
    if path.is_absolute() or not path.parts or any(p in ("", ".", "..") for p in path.parts):
        raise StorageError(f"unsafe storage key {key!r}")
    return str(path)


class Storage(Protocol):
    def workpath(self, key: str) -> Path: ...

    def commit(self, key: str) -> None: ...

    def local(self, key: str) -> Path: ...

    def exists(self, key: str) -> bool: ...

    def size(self, key: str) -> int | None: ...

    def delete_prefix(self, prefix: str) -> None: ...

    def presigned_url(self, key: str, expires: int) -> str | None:
        """A URL the browser can fetch directly, or None to be served by the app."""
        ...


class LocalStorage:
    def __init__(self, root: Path) -> None:
        self.root = root

    def workpath(self, key: str) -> Path:
        path = self.root / _safe_key(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def commit(self, key: str) -> None:
        if not (self.root / _safe_key(key)).exists():
            raise StorageError(f"nothing written at {key}")

    def local(self, key: str) -> Path:
        path = self.root / _safe_key(key)
        if not path.exists():
            raise StorageError(f"missing object {key}")
        return path

    def exists(self, key: str) -> bool:
        return (self.root / _safe_key(key)).exists()

    def size(self, key: str) -> int | None:
        path = self.root / _safe_key(key)
        return path.stat().st_size if path.exists() else None

    def delete_prefix(self, prefix: str) -> None:
        path = self.root / _safe_key(prefix)
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        elif path.exists():
            path.unlink()

    def presigned_url(self, key: str, expires: int) -> str | None:
        return None


class S3Storage:
    """Objects in ``s3://bucket/prefix``; a local cache under the data home holds work files."""

    def __init__(self, settings: Settings, url: str, cache: Path) -> None:
        try:
            import boto3
        except ImportError as exc:
            raise StorageError("S3 storage needs boto3: pip install 'ascent[repurposer]'") from exc
        parts = urlsplit(url)
        self.bucket, self.prefix = parts.netloc, parts.path.strip("/")
        self.cache = LocalStorage(cache)
        secret = settings.repurposer_s3_secret_key
        key_id = settings.repurposer_s3_access_key
        self.client = boto3.client(
            "s3",
            endpoint_url=settings.repurposer_s3_endpoint_url,
            region_name=settings.repurposer_s3_region,
            aws_access_key_id=key_id.get_secret_value() if key_id else None,
            aws_secret_access_key=secret.get_secret_value() if secret else None,
        )

    def _object(self, key: str) -> str:
        key = _safe_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def workpath(self, key: str) -> Path:
        return self.cache.workpath(key)

    def commit(self, key: str) -> None:
        # upload_file switches to multipart for big files and streams from disk.
        self.client.upload_file(str(self.cache.local(key)), self.bucket, self._object(key))

    def local(self, key: str) -> Path:
        if self.cache.exists(key):
            return self.cache.local(key)
        path = self.cache.workpath(key)
        partial = path.with_name(path.name + ".part")
        try:
            self.client.download_file(self.bucket, self._object(key), str(partial))
        except Exception as exc:
            partial.unlink(missing_ok=True)
            raise StorageError(f"missing object {key}: {exc}") from exc
        partial.replace(path)
        return path

    def exists(self, key: str) -> bool:
        return self.size(key) is not None

    def size(self, key: str) -> int | None:
        try:
            head = self.client.head_object(Bucket=self.bucket, Key=self._object(key))
        except Exception:
            return None
        return int(head["ContentLength"])

    def delete_prefix(self, prefix: str) -> None:
        self.cache.delete_prefix(prefix)
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self._object(prefix) + "/"):
            objects = [{"Key": o["Key"]} for o in page.get("Contents", [])]
            if objects:
                self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": objects})

    def presigned_url(self, key: str, expires: int) -> str | None:
        return self.client.generate_presigned_url(
            "get_object",
            Params={"Bucket": self.bucket, "Key": self._object(key)},
            ExpiresIn=expires,
        )


def open_storage(settings: Settings) -> Storage:
    root = settings.data_home / "repurposer"
    url = settings.repurposer_storage_url.strip()
    if not url:
        return LocalStorage(root)
    if url.startswith("file://"):
        return LocalStorage(Path(urlsplit(url).path))
    if url.startswith("s3://"):
        return S3Storage(settings, url, root / "cache")
    raise StorageError(
        f"ASCENT_REPURPOSER_STORAGE_URL must be empty, file:///path or s3://..., not {url!r}"
    )


def iter_file(path: Path, chunk: int = 1 << 20) -> Iterator[bytes]:
    with path.open("rb") as handle:
        while data := handle.read(chunk):
            yield data


# Signed file links: <video src> and download links cannot send an Authorization header.
def sign(secret: str, key: str, expires_at: int) -> str:
    message = f"{key}\n{expires_at}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def verify(secret: str, key: str, expires_at: int, signature: str) -> bool:
    if expires_at < time.time():
        return False
    return hmac.compare_digest(sign(secret, key, expires_at), signature)
