"""Photos in S3-compatible object storage, behind the same port as the local folder
(storage.PhotoStore): several application servers then share one store, and the photos scale
apart from the servers' disks.

Configuration (docs/configuration.md): PHOTO_S3_BUCKET selects it, PHOTO_S3_ENDPOINT_URL names a
server other than AWS (MinIO, Ceph RGW, a cloud's S3 API), PHOTO_S3_PREFIX keeps the photos under
a prefix of a shared bucket, PHOTO_S3_REGION signs for a region. Credentials come from where
boto3 looks for them (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the service's environment
file, an instance role), never from the app's configuration.

Keys are the local store's (storage.key_parts checks them the same way), so a deployment can move
from a folder to a bucket by copying the files across under the same names.
"""

from dataclasses import dataclass
from typing import Any, Final

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from evidence.storage import key_parts

# A photo upload waits on the store before its row is written: fail in seconds rather than hang
# a worker, and let boto3 retry a dropped connection or a 5xx a few times on its own.
_CLIENT_CONFIG: Final = Config(
    connect_timeout=5,
    read_timeout=30,
    retries={"max_attempts": 4, "mode": "standard"},
    # Several threads of a worker share the client (boto3 clients are thread-safe).
    max_pool_connections=16,
)
_MISSING: Final = frozenset({"404", "NoSuchKey", "NotFound"})


@dataclass(frozen=True)
class S3Settings:
    bucket: str
    endpoint_url: str | None = None
    prefix: str = ""
    region: str | None = None

    @classmethod
    def from_config(cls, config: Any) -> "S3Settings | None":
        """The settings from the app's configuration, or None when no bucket is set."""
        bucket = config.get("PHOTO_S3_BUCKET")
        if not bucket:
            return None
        prefix = (config.get("PHOTO_S3_PREFIX") or "").strip("/")
        if prefix:
            key_parts(prefix)  # the same rules as a key: no "..", no absolute path
        return cls(
            bucket=bucket,
            endpoint_url=config.get("PHOTO_S3_ENDPOINT_URL") or None,
            prefix=prefix,
            region=config.get("PHOTO_S3_REGION") or None,
        )


class S3Store:
    """Objects in a bucket, under an optional prefix. A PUT replaces an object whole or not at
    all, so `put` is atomic and idempotent as the port asks."""

    def __init__(self, settings: S3Settings, client: Any = None) -> None:
        self.settings = settings
        self.client = client or boto3.client(
            "s3",
            endpoint_url=settings.endpoint_url,
            region_name=settings.region,
            config=_CLIENT_CONFIG,
        )

    def _name(self, key: str) -> str:
        key_parts(key)
        return f"{self.settings.prefix}/{key}" if self.settings.prefix else key

    def put(self, key: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.settings.bucket, Key=self._name(key), Body=data)

    def get(self, key: str) -> bytes:
        try:
            answer = self.client.get_object(Bucket=self.settings.bucket, Key=self._name(key))
        except ClientError as exc:
            if _code(exc) in _MISSING:
                raise KeyError(key) from None
            raise
        body = answer["Body"]
        try:
            return body.read()
        finally:
            body.close()

    def exists(self, key: str) -> bool:
        try:
            self.client.head_object(Bucket=self.settings.bucket, Key=self._name(key))
        except ClientError as exc:
            if _code(exc) in _MISSING:
                return False
            raise
        return True

    def delete(self, key: str) -> None:
        # S3 answers a DELETE of an absent key with success, as the port asks.
        self.client.delete_object(Bucket=self.settings.bucket, Key=self._name(key))


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))
