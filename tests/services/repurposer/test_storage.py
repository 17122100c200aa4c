"""Storage behind one interface: local disk, and an S3 bucket (moto's fake AWS, since no real
S3 is reachable here) with a local work cache."""

from __future__ import annotations

import boto3
import pytest
from moto import mock_aws

from services.repurposer.storage import LocalStorage, S3Storage, StorageError, open_storage


@pytest.fixture
def s3(settings, tmp_path):
    with mock_aws():
        boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="media")
        configured = settings.model_copy(update={
            "repurposer_storage_url": "s3://media/repurposer", "repurposer_s3_region": "us-east-1",
        })  # fmt: skip
        yield open_storage(configured)


def test_s3_round_trip_through_the_cache(s3, tmp_path):
    assert isinstance(s3, S3Storage)
    path = s3.workpath("jobs/j1/clips/0-9x16.mp4")
    path.write_bytes(b"\x00clip" * 1000)
    s3.commit("jobs/j1/clips/0-9x16.mp4")
    listed = s3.client.list_objects_v2(Bucket="media", Prefix="repurposer/jobs/j1/")
    assert [o["Key"] for o in listed["Contents"]] == ["repurposer/jobs/j1/clips/0-9x16.mp4"]
    assert s3.size("jobs/j1/clips/0-9x16.mp4") == 5000
    # Another worker (an empty cache) gets the object from the bucket.
    path.unlink()
    assert s3.local("jobs/j1/clips/0-9x16.mp4").read_bytes() == b"\x00clip" * 1000
    url = s3.presigned_url("jobs/j1/clips/0-9x16.mp4", 60)
    assert "media" in url and "Signature" in url and "Expires=" in url
    s3.delete_prefix("jobs/j1")
    assert not s3.exists("jobs/j1/clips/0-9x16.mp4")
    with pytest.raises(StorageError, match="missing object"):
        s3.local("jobs/j1/clips/0-9x16.mp4")


@pytest.mark.parametrize("key", ["../etc/passwd", "/abs/path", "jobs/../../x", "."])
def test_keys_cannot_leave_the_root(tmp_path, key):
    storage = LocalStorage(tmp_path)
    with pytest.raises(StorageError, match="unsafe"):
        storage.workpath(key)


def test_local_storage_serves_files_in_place(settings, tmp_path):
    storage = open_storage(settings.model_copy(update={
        "repurposer_storage_url": f"file://{tmp_path}",
    }))  # fmt: skip
    path = storage.workpath("uploads/u1/source")
    path.write_bytes(b"x")
    storage.commit("uploads/u1/source")
    assert storage.local("uploads/u1/source") == path
    assert storage.presigned_url("uploads/u1/source", 60) is None  # served by the app, signed
    with pytest.raises(StorageError, match="must be empty"):
        open_storage(settings.model_copy(update={"repurposer_storage_url": "ftp://x"}))
