"""Photos in S3-compatible object storage (evidence/s3.py), against a real S3 server on loopback:
moto's server mode, an in-memory server that speaks the S3 HTTP API (MinIO and its peers are not
packaged for Debian or PyPI; see docs/deploy.md). The store keeps the port's promises, and a
photo taken through the app lands in the bucket and comes back through the photo route."""

import socket
import subprocess
import sys
import time
import uuid

import boto3
import pytest
from botocore.exceptions import ClientError

from evidence.s3 import S3Settings, S3Store
from evidence.services import photo_store
from evidence.storage import PhotoStore, photo_keys
from patrol.models import visit_photo
from tests.conftest import sign_in
from tests.factories import make_patrol, make_photo, make_source, make_world, visits_of

SHA = "ab" * 32
ACCESS = {"AWS_ACCESS_KEY_ID": "gridpatrol-test", "AWS_SECRET_ACCESS_KEY": "gridpatrol-test"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def s3_server():
    """moto's S3 server in a process of its own; yields its address."""
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail("the S3 server did not start")
            time.sleep(0.1)
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture
def bucket(s3_server, monkeypatch):
    """A new bucket on the server, and credentials in the environment as a service has them."""
    for name, value in ACCESS.items():
        monkeypatch.setenv(name, value)
    name = f"photos-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=s3_server, region_name="us-east-1").create_bucket(Bucket=name)
    return name


def _raw(s3_server: str):
    return boto3.client("s3", endpoint_url=s3_server, region_name="us-east-1")


@pytest.mark.parametrize("prefix", ["", "changji/prod"])
def test_the_s3_store_keeps_the_ports_promises(s3_server, bucket, prefix):
    store = S3Store(S3Settings(bucket=bucket, endpoint_url=s3_server, prefix=prefix))
    assert isinstance(store, PhotoStore)
    key = photo_keys(SHA, "originals", "jpg")
    assert not store.exists(key)
    with pytest.raises(KeyError):
        store.get(key)

    store.put(key, b"first")
    store.put(key, b"photo")  # idempotent: replaces
    assert store.exists(key)
    assert store.get(key) == b"photo"
    name = f"{prefix}/{key}" if prefix else key
    listed = _raw(s3_server).list_objects_v2(Bucket=bucket)["Contents"]
    assert [item["Key"] for item in listed] == [name]  # under the prefix, nothing else

    store.delete(key)
    store.delete(key)  # absent: no error
    assert not store.exists(key)
    with pytest.raises(KeyError):
        store.get(key)


@pytest.mark.parametrize("key", ["../x", "/abs", "a/../../x", "", "a//b", "a\\b", "./a"])
def test_the_s3_store_refuses_the_keys_the_folder_refuses(s3_server, bucket, key):
    store = S3Store(S3Settings(bucket=bucket, endpoint_url=s3_server))
    for call in (
        lambda: store.put(key, b"x"),
        lambda: store.get(key),
        lambda: store.exists(key),
        lambda: store.delete(key),
    ):
        with pytest.raises(ValueError):
            call()
    assert "Contents" not in _raw(s3_server).list_objects_v2(Bucket=bucket)


def test_a_missing_bucket_is_an_error_not_a_missing_photo(s3_server, bucket):
    """A store that cannot be reached must never look like a photo that was never taken."""
    store = S3Store(S3Settings(bucket=bucket + "-absent", endpoint_url=s3_server))
    with pytest.raises(ClientError):
        store.put("originals/x.jpg", b"x")
    with pytest.raises(ClientError):
        store.get("originals/x.jpg")


def test_settings_come_from_the_configuration():
    assert S3Settings.from_config({}) is None
    assert S3Settings.from_config({"PHOTO_S3_BUCKET": "p", "PHOTO_S3_PREFIX": "/a/b/"}) == (
        S3Settings(bucket="p", prefix="a/b")
    )
    with pytest.raises(ValueError):
        S3Settings.from_config({"PHOTO_S3_BUCKET": "p", "PHOTO_S3_PREFIX": "a/../b"})


def test_a_photo_taken_in_the_app_lands_in_the_bucket_and_is_served(
    app, client, db_session, s3_server, bucket, monkeypatch
):
    monkeypatch.setitem(app.config, "PHOTO_S3_BUCKET", bucket)
    monkeypatch.setitem(app.config, "PHOTO_S3_ENDPOINT_URL", s3_server)
    monkeypatch.setitem(app.config, "PHOTO_S3_PREFIX", "test")
    assert isinstance(photo_store(), S3Store)
    assert photo_store() is photo_store()  # one client per app, not one per request

    world = make_world()
    patrol = make_patrol(world, sources=[make_source(world)])
    photo = make_photo(world, visit_photo, visits_of(patrol)[0])
    names = {item["Key"] for item in _raw(s3_server).list_objects_v2(Bucket=bucket)["Contents"]}
    assert names == {f"test/{k}" for k in (photo.original_key, photo.display_key, photo.thumb_key)}

    sign_in(client, world.supervisor)
    answer = client.get(f"/patrol/photos/{photo.id}/display")
    assert answer.status_code == 200
    assert answer.data == photo_store().get(photo.display_key)
    assert answer.data[:2] == b"\xff\xd8"  # a JPEG
