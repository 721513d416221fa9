"""Bin and ROI stores in S3, on an injected boto3 (sync) or aiobotocore (async) client.

:class:`S3Objects` is object access through an S3 client; the stores are the object stores'
shells over it, with a key layout (:class:`~ifcbkit.sources.layouts.KeyLayout`:
``{prefix/}{year}/{pid}.{ext}`` and ``{prefix/}{year}/{pid}/{target:05d}.png``).
:class:`S3BinStore` and :class:`AsyncS3BinStore` differ only in their face and the client the
caller passes in (``boto3.client('s3')`` or aiobotocore's ``create_client('s3')``).

``read_image`` fetches the bin's header and ADC once (the parsed index is cached per process)
and then one byte range of the ``.roi`` per ROI (both halves of a stitched pair in one range
when they are close); ``read_images`` gets the ``.roi`` whole, once. With
``check_versions=True`` (the default) each index lookup first asks ``head_object`` for the ADC's
ETag, so a re-uploaded ADC is never served from a stale index; raw IFCB files are written once,
so ``check_versions=False`` saves that round trip and trusts the cache.

A missing object is :class:`~ifcbkit.errors.NotFoundError`; any other failure is
:class:`~ifcbkit.errors.StoreError` naming ``s3://bucket/key`` and the S3 error code, never
credentials. Retries are the client's (configure them with botocore's ``Config(retries=...)``).
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Hashable
from typing import Any, NamedTuple

from ..engine.reader import BinReader
from ..engine.requests import Call, Emit, Op
from ..errors import InvalidArgumentError, InvalidIdentifierError, MissingDependencyError, NotFoundError, StoreError
from ..formats.encoding import ImageFormat, check_file_type
from ..formats.ids import add_target, parse_bin_key, parse_roi_id
from ..formats.ranges import ByteRange
from ..sources.failures import call_backend, is_past_the_end
from ..sources.layouts import KeyLayout, Layout, make_layout
from ..sources.objects import ObjectAccess, ObjectImages, ObjectSource
from .objectstore import AsyncDictRoiStore, AsyncObjectBinStore, AsyncObjectRoiStore, ObjectBinStore, ObjectRoiStore

_CONTENT_TYPES = {"png": "image/png", "jpg": "image/jpeg"}


class S3ClientSettings(NamedTuple):
    """What a pickled S3 store carries instead of its client: where S3 is, never who you are. The
    unpickled store makes a boto3 client with these settings and the credentials of the process it
    is in (environment variables, ``~/.aws``, an instance or pod role), so that keys never travel in
    a pickle, a process pool's queue or a Dask task graph."""

    endpoint_url: str | None
    region_name: str | None
    config: Any  # botocore's Config (retries, addressing style, timeouts), when the client has one

    @classmethod
    def of(cls, client: Any) -> S3ClientSettings:
        meta = getattr(client, "meta", None)
        return cls(
            getattr(meta, "endpoint_url", None), getattr(meta, "region_name", None), getattr(meta, "config", None)
        )

    def client(self) -> Any:
        """A boto3 S3 client with these settings."""
        try:
            import boto3
        except ImportError:
            raise MissingDependencyError("S3 stores sent to another process", "s3", "boto3") from None
        options = {"endpoint_url": self.endpoint_url, "region_name": self.region_name, "config": self.config}
        return boto3.client("s3", **{k: v for k, v in options.items() if v is not None})


class S3Objects(ObjectAccess):
    """Objects in one S3 bucket through a boto3 or aiobotocore client. Pickles without its client
    (see :class:`S3ClientSettings`). ``check_versions``: each index lookup asks ``head_object`` for
    the ETags of the ADC and header."""

    def __init__(self, bucket: str, client: Any = None, *, check_versions: bool = False):
        if not isinstance(bucket, str) or not bucket:
            raise InvalidArgumentError("s3_bucket", f"s3_bucket must be a non-empty string, not {bucket!r}")
        if client is None:  # as in 0.3.1: a default boto3 client (its calls run in worker threads when async)
            try:
                import boto3
            except ImportError:
                raise MissingDependencyError("S3 stores without a client", "s3", "boto3") from None
            client = boto3.client("s3")
        self.bucket = bucket
        self.client = client
        self.check_versions = check_versions

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "client": S3ClientSettings.of(self.client)}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.client = state["client"].client()

    def __repr__(self) -> str:
        return f"S3Objects({self.bucket!r})"

    def where(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    def token(self) -> Hashable:
        endpoint = getattr(getattr(self.client, "meta", None), "endpoint_url", None)
        return ("s3", endpoint, self.bucket)

    def _s3(self, operation: str, key: str, action: str, **params: Any) -> Op[Any]:
        function = functools.partial(getattr(self.client, operation), Bucket=self.bucket, **params)
        return (yield from call_backend(function, action=action, where=self.where(key)))

    def _download(self, key: str, **params: Any) -> Op[bytes]:
        response = yield from self._s3("get_object", key, "reading", Key=key, **params)
        body = response["Body"]
        try:
            return bytes((yield from call_backend(body.read, action="reading", where=self.where(key))))
        except Exception:
            close = getattr(body, "aclose", None) or getattr(body, "close", None)
            if close is not None:
                with contextlib.suppress(Exception):  # the read error is the one to report
                    yield Call(close)
            raise

    def get(self, key: str) -> Op[bytes]:
        return (yield from self._download(key))

    def get_ranges(self, key: str, ranges: list[ByteRange]) -> Op[list[bytes]]:
        out = []
        for r in ranges:
            if r.length <= 0:
                out.append(b"")
                continue
            try:
                out.append((yield from self._download(key, Range=f"bytes={r.offset}-{r.end - 1}")))
            except StoreError as e:
                if not is_past_the_end(e.__cause__):
                    raise
                out.append(b"")  # the range starts at or past the end of the object
        return out

    def _head(self, key: str) -> Op[dict[str, Any]]:
        head: dict[str, Any] = yield from self._s3("head_object", key, "checking", Key=key)
        return head

    def exists(self, key: str) -> Op[bool]:
        try:
            yield from self._head(key)
            return True
        except NotFoundError:
            return False

    def size(self, key: str) -> Op[int | None]:
        return int((yield from self._head(key))["ContentLength"])

    def version(self, key: str) -> Op[Hashable | None]:
        if not self.check_versions:
            return None
        return (yield from self._head(key)).get("ETag")

    def put(self, key: str, data: bytes) -> Op[None]:
        extra = {"ContentType": _CONTENT_TYPES[key.rpartition(".")[2]]} if key.endswith((".png", ".jpg")) else {}
        yield from self._s3("put_object", key, "writing", Key=key, Body=data, **extra)

    def delete(self, key: str) -> Op[None]:
        yield from self._s3("delete_object", key, "deleting", Key=key)

    def keys(self, prefix: str) -> Op[None]:
        token: str | None = None
        while True:
            params = {"Prefix": prefix, **({"ContinuationToken": token} if token else {})}
            page = yield from self._s3("list_objects_v2", prefix, "listing", **params)
            for item in page.get("Contents") or ():
                yield Emit(item["Key"])
            token = page.get("NextContinuationToken")
            if not page.get("IsTruncated") or not token:
                return


class S3BinStore(ObjectBinStore):
    """Raw bin files in an S3 bucket on a boto3 client, by key ``'{pid}.{ext}'``.

    ``get``, ``get_range``, ``exists``, ``put``, ``delete``, ``list_bins(year, instrument)`` and
    every read method (``read_image`` with ranged reads, ``read_images``, ``list_images``,
    ``iter_images``, ``read_header``, ...).
    """

    def __init__(
        self, s3_bucket: str, s3_client: Any = None, s3_prefix: str | None = None, *,
        layout: Layout | KeyLayout = "year", check_versions: bool = True,
    ):  # fmt: skip
        """Bin files in ``s3_bucket`` under ``s3_prefix`` (a default boto3 client without ``s3_client``).

        Raises:
            InvalidArgumentError: (a ``ValueError``) for an empty bucket name or an invalid prefix or layout.
            MissingDependencyError: without a client and without boto3 (the ``s3`` extra).
        """
        self.objects = S3Objects(s3_bucket, s3_client, check_versions=check_versions)
        self.backend = self.objects
        self.source = ObjectSource(self.objects, make_layout(s3_prefix, layout, "s3_prefix"))
        self.reader = BinReader(self.source)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.bucket!r}, {self.layout!r})"

    @property
    def bucket(self) -> str:
        """The bucket's name."""
        return self.objects.bucket

    @property
    def client(self) -> Any:
        """The S3 client."""
        return self.objects.client


class AsyncS3BinStore(AsyncObjectBinStore):
    """:class:`S3BinStore` for asyncio: the same methods, awaitable, on an aiobotocore client or a
    boto3 one (whose blocking calls then run in worker threads, never on the event loop)."""

    __init__ = S3BinStore.__init__
    __repr__ = S3BinStore.__repr__
    bucket = S3BinStore.bucket
    client = S3BinStore.client


class S3RoiStore(ObjectRoiStore):
    """Encoded ROI images in S3 at ``{prefix/}{year}/{pid}/{target:05d}.png`` (boto3 client):
    ``get``, ``put``, ``exists``, ``delete`` by ROI id."""

    def __init__(
        self, s3_bucket: str, s3_client: Any = None, s3_prefix: str | None = None, *,
        layout: Layout | KeyLayout = "year", file_type: ImageFormat = "png",
    ):  # fmt: skip
        """Images in ``s3_bucket`` under ``s3_prefix`` (a default boto3 client without ``s3_client``).

        Raises:
            InvalidArgumentError: (a ``ValueError``) for an empty bucket name, an invalid prefix, layout
                or file type.
            MissingDependencyError: without a client and without boto3 (the ``s3`` extra).
        """
        self.objects = S3Objects(s3_bucket, s3_client)
        self.backend = self.objects
        layout = make_layout(s3_prefix, layout, "s3_prefix")
        self.images = ObjectImages(self.objects, layout, check_file_type(file_type))

    __repr__ = S3BinStore.__repr__
    bucket = S3BinStore.bucket
    client = S3BinStore.client


class AsyncS3RoiStore(AsyncObjectRoiStore):
    """:class:`S3RoiStore` for asyncio, on an aiobotocore client or a boto3 one (run in worker threads)."""

    __init__ = S3RoiStore.__init__
    __repr__ = S3BinStore.__repr__
    bucket = S3BinStore.bucket
    client = S3BinStore.client


__all__ = [
    "AsyncDictRoiStore", "AsyncS3BinStore", "AsyncS3RoiStore", "IfcbBinKeyTransformer", "IfcbPidTransformer",
    "S3BinStore", "S3ClientSettings", "S3Objects", "S3RoiStore", "list_roi_ids_from_s3",
]  # fmt: skip


# ----- the key helpers of ifcbkit 0.3.1 ----------------------------------------------------------

_YEAR_LAYOUT = KeyLayout(None, "year")


class IfcbPidTransformer:
    """ROI ids to and from S3 keys: ``D20250114T172241_IFCB109_00002`` is
    ``2025/D20250114T172241_IFCB109/00002.png`` (``legacy/...`` for I-style bins)."""

    def transform_key(self, pid: str) -> str:
        """The key of a ROI id.

        Raises:
            InvalidIdentifierError: (a ``ValueError``) if ``pid`` is not a ROI id.
        """
        return _YEAR_LAYOUT.roi_image(pid)

    def reverse_transform_key(self, s3_key: str) -> str:
        """The ROI id of a key.

        Raises:
            InvalidIdentifierError: (a ``ValueError``) for a key of another shape.
        """
        parts = s3_key.split("/")
        if len(parts) < 3 or not parts[-1].endswith(".png"):
            raise InvalidIdentifierError(f"not a ROI image key ('{{year}}/{{bin_id}}/{{target:05d}}.png'): {s3_key!r}")
        roi_id = f"{parts[-2]}_{parts[-1][: -len('.png')]}"
        parse_roi_id(roi_id)
        return roi_id


class IfcbBinKeyTransformer:
    """Bin file keys to and from S3 keys: ``D20250114T172241_IFCB109.hdr`` is
    ``2025/D20250114T172241_IFCB109.hdr`` (``legacy/...`` for I-style bins)."""

    def transform_key(self, key: str) -> str:
        """The S3 key of a bin file key ``'{bin_id}.{ext}'``.

        Raises:
            InvalidIdentifierError: (a ``ValueError``) for any other key.
        """
        return _YEAR_LAYOUT.bin_file(*parse_bin_key(key))

    def reverse_transform_key(self, s3_key: str) -> str:
        """The bin file key of an S3 key (its last component)."""
        return s3_key.split("/")[-1]


def list_roi_ids_from_s3(bucket_store: Any, bin_id: str, prefix: str = "") -> list[str]:
    """The sorted ROI ids of a bin's images in an object store (anything with ``keys(prefix=...)``,
    such as amplify-storage-utils' ``BucketStore`` or a :class:`~ifcbkit.stores.objectstore.MemoryStore`),
    under ``{prefix/}{year}/{bin_id}/``.

    Raises:
        InvalidIdentifierError: if ``bin_id`` is not a bin id.
    """
    layout = KeyLayout(prefix or None, "year")
    search = layout.roi_image(add_target(bin_id, 1)).rpartition("/")[0] + "/"
    out = []
    for key in bucket_store.keys(prefix=search):
        name = key.rpartition("/")[2]
        number = name[: -len(".png")]
        if name.endswith(".png") and number.isdigit() and number.isascii() and 1 <= int(number) <= 999_999:
            out.append(add_target(bin_id, int(number)))
    return sorted(out)
