"""The object store: a thin layer over one fsspec root, the only place that touches storage.

It gives the dataset code four guarantees, on a local folder, ``memory://`` and S3 alike:
writes of immutable content are all-or-nothing, `create_exclusive` never overwrites (an
exclusive create on disk, a conditional put on S3), reads of objects check their sha256,
and every storage failure is a `StorageError` naming the URL and the cause.
"""

from __future__ import annotations

import errno
import hashlib
import os
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from typing import Any

import fsspec
import pyarrow as pa

from .._config import recordable_url, scrub
from ..errors import IntegrityError, StorageError, ValidationError
from ._checks import check_digest

__all__ = ["ObjectStore", "object_path", "sha256_hex"]

_MEMORY_LOCK = threading.Lock()
_OVERLAP_BYTES = 1 << 20  # below this, a second thread costs more than it saves
_POOL = ThreadPoolExecutor(max_workers=2, thread_name_prefix="gantry-local-hash")
_NO_SPACE = {errno.ENOSPC, errno.EFBIG, errno.EDQUOT}


def sha256_hex(data: bytes | memoryview) -> str:
    return hashlib.sha256(data).hexdigest()


class ObjectStore:
    """Files under `root` (an fsspec URL) with exclusive creates and verified objects."""

    def __init__(self, root: str, storage_options: Mapping[str, Any] | None = None) -> None:
        self._given = root.rstrip("/")
        self.url = recordable_url(self._given)[0]  # without a login or tokens: for messages
        with self._errors("opening the storage root"):
            self.fs, path = fsspec.core.url_to_fs(self._given, **dict(storage_options or {}))
        self.root = path.rstrip("/")
        self.protocol = self.fs.protocol if isinstance(self.fs.protocol, str) else self.fs.protocol[0]
        self.is_local = self.protocol in {"file", "local"}
        # Immutable things read once per process: commit-log entries and manifests.
        self.log_cache: dict[str, dict[int, str]] = {}
        self.manifest_cache: OrderedDict[str, Any] = OrderedDict()
        # Called with the byte count of every object read or written (progress displays).
        self.on_transfer: Callable[[int], None] | None = None

    def remember_manifest(self, version_id: str, manifest: Any) -> None:
        """Cache a parsed, hash-checked manifest (the most recent 1024)."""
        self.manifest_cache[version_id] = manifest
        self.manifest_cache.move_to_end(version_id)
        while len(self.manifest_cache) > 1024:
            self.manifest_cache.popitem(last=False)

    def __repr__(self) -> str:
        return f"ObjectStore({self.url!r})"

    def path(self, *parts: str) -> str:
        return "/".join([self.root, *parts])

    def _local_path(self, relpath: str) -> str:
        """The path of `relpath`, refusing one that a symlink leads outside the root."""
        target = self.path(relpath)
        if self.is_local:
            real_root = os.path.realpath(self.root)
            real = os.path.realpath(os.path.dirname(target))
            outside = real != real_root and not real.startswith(real_root + os.sep)
            if outside or os.path.islink(target):
                raise IntegrityError(f"{relpath} in {self.url!r} is a symbolic link, or lies "
                                     "under one leading out of the storage root; gantry-local "
                                     "does not follow it: remove the link")
        return target

    @contextmanager
    def _errors(self, what: str, missing_ok: bool = False) -> Iterator[None]:
        """Translate storage failures; a missing file stays `FileNotFoundError` if `missing_ok`."""
        try:
            yield
        except (StorageError, IntegrityError, ValidationError, FileExistsError):
            raise
        except FileNotFoundError:
            if missing_ok:
                raise
            raise StorageError(f"{what} on {self.url!r} failed: the bucket or folder does not "
                               "exist; create it first") from None
        except OSError as exc:
            if exc.errno not in _NO_SPACE:
                raise self._failure(what, exc) from exc
            raise StorageError(f"{what} on {self.url!r} failed: the disk is full or a file-size "
                               f"limit was reached ({exc.strerror}). Nothing was committed by "
                               "this write; free space and try again.") from exc
        except Exception as exc:
            raise self._failure(what, exc) from exc

    def _failure(self, what: str, exc: Exception) -> StorageError:
        return StorageError(f"{what} on {self.url!r} failed: {type(exc).__name__}: "
                            f"{scrub(str(exc), self._given)}. "
                            "Check the URL, the bucket, the credentials and the endpoint.")

    # -- writing ------------------------------------------------------------------------------

    def put_atomic(self, relpath: str, data: bytes) -> None:
        """Write `data` so that readers see all of it or nothing (temp file + rename locally)."""
        target = self._local_path(relpath)
        with self._errors(f"writing {relpath}"):
            if self.is_local:
                os.replace(_durable_temp(target, data), target)
            else:
                self.fs.pipe_file(target, data)

    def create_exclusive(self, relpath: str, data: bytes) -> bool:
        """Create `relpath` holding `data` unless it exists; True when this call created it."""
        target = self._local_path(relpath)
        with self._errors(f"creating {relpath}"):
            if self.is_local:
                temp = _durable_temp(target, data)
                try:
                    os.link(temp, target)  # atomic, and fails if the target exists
                except FileExistsError:
                    return False
                finally:
                    os.unlink(temp)
                return True
            if self.protocol == "memory":
                with _MEMORY_LOCK:
                    if self.fs.exists(target):
                        return False
                    self.fs.pipe_file(target, data)
                    return True
            try:
                self.fs.pipe_file(target, data, mode="create")
            except FileExistsError:
                return False
            return True

    def put_object(self, data: bytes | memoryview) -> str:
        """Store content-addressed bytes once; return their sha256.

        An object that exists already gets a fresh modification time (locally a touch, on
        a remote store a re-put of the same bytes), so `gc`'s grace period protects it
        from being collected while the version reusing it commits.
        """
        if self.on_transfer is not None:
            self.on_transfer(len(data))
        if self.is_local and len(data) >= _OVERLAP_BYTES:
            return self._put_local_overlapped(data)
        digest = sha256_hex(data)
        relpath = object_path(digest)
        if self.is_local:
            if not self._touch(relpath):
                self.put_atomic(relpath, bytes(data))
        elif self.protocol == "memory" or not self.create_exclusive(relpath, bytes(data)):
            self.put_atomic(relpath, bytes(data))
        return digest

    def put_encoded(self, encode: Callable[[Any], None]) -> tuple[str, int]:
        """Store the bytes `encode(sink)` writes to an Arrow output stream, content-addressed
        once; return their sha256 and size.

        Locally they go straight to a temp file beside the objects (no copy in memory), which
        is fsynced while it is hashed (both release the GIL) and then renamed under its hash,
        replacing identical bytes (which refreshes their time, as `put_object` does).
        Elsewhere they are encoded in memory and stored with `put_object`.
        """
        if not self.is_local:
            memory = pa.BufferOutputStream()
            encode(memory)
            data = memoryview(memory.getvalue())
            return self.put_object(data), len(data)
        temp_dir = self._local_path("objects/incoming")
        temp = os.path.join(temp_dir, f"object.{uuid.uuid4().hex}.tmp")
        with self._errors("writing an object"):
            os.makedirs(temp_dir, exist_ok=True)
            try:
                with pa.OSFile(temp, "wb") as file:
                    encode(file)
                syncing = _POOL.submit(_fsync_file, temp)
                try:
                    digest, size = _file_sha256(temp)
                finally:
                    syncing.result()
            except BaseException:
                with suppress(OSError):  # a full disk, a table Parquet refused: no trace left
                    os.unlink(temp)
                raise
            self._adopt(temp, digest)
        if self.on_transfer is not None:
            self.on_transfer(size)
        return digest, size

    def _touch(self, relpath: str) -> bool:
        """Refresh a local file's modification time; False when it does not exist."""
        target = self._local_path(relpath)
        with self._errors(f"touching {relpath}"):
            try:
                os.utime(target)
            except FileNotFoundError:
                return False
        return True

    def _put_local_overlapped(self, data: bytes | memoryview) -> str:
        """Write a large object to a temp file while hashing it (both release the GIL),
        then move it under its hash (replacing identical bytes refreshes its time)."""
        temp_dir = self._local_path("objects/incoming")
        with self._errors("writing an object"):
            os.makedirs(temp_dir, exist_ok=True)
            writing = _POOL.submit(_durable_temp, os.path.join(temp_dir, "object"), data)
            try:
                digest = sha256_hex(data)
            finally:
                temp = writing.result()
            self._adopt(temp, digest)
        return digest

    def _adopt(self, temp: str, digest: str) -> None:
        """Move a written, fsynced temp file under its hash (replacing identical bytes
        refreshes their time); on failure the temp file is removed."""
        try:
            target = self._local_path(object_path(digest))
            os.makedirs(os.path.dirname(target), exist_ok=True)
            os.replace(temp, target)
        except BaseException:
            with suppress(OSError):
                os.unlink(temp)
            raise

    def info(self, relpath: str) -> dict[str, Any]:
        """fsspec's details of a file (size, modification time ...)."""
        with self._errors(f"inspecting {relpath}"):
            details: dict[str, Any] = self.fs.info(self.path(relpath))
            return details

    def delete_unless_touched(self, relpath: str, cutoff: float) -> int | None:
        """Delete a local file unless its time passed `cutoff` (a writer refreshed it);
        renamed aside first, so a writer touching it later finds it missing and rewrites it.
        Returns the bytes deleted, or None when it was kept."""
        target = self._local_path(relpath)
        aside = f"{target}.{uuid.uuid4().hex}.gc.tmp"
        with self._errors(f"deleting {relpath}"):
            try:
                os.rename(target, aside)
            except FileNotFoundError:
                return None
            stat = os.stat(aside)
            if stat.st_mtime > cutoff:
                with suppress(FileExistsError):  # put back, unless a writer wrote it again
                    os.link(aside, target)
                os.unlink(aside)
                return None
            os.unlink(aside)
            return stat.st_size

    def delete(self, relpath: str) -> None:
        with self._errors(f"deleting {relpath}"):
            self.fs.rm(self._local_path(relpath))

    # -- reading ------------------------------------------------------------------------------

    def read(self, relpath: str) -> bytes:
        """The bytes of `relpath`; `FileNotFoundError` when it does not exist."""
        with self._errors(f"reading {relpath}", missing_ok=True):
            data: bytes = self.fs.cat_file(self._local_path(relpath))
            return data

    def read_table_object(self, digest: str, context: str, verify: bool,
                          decode: Callable[[bytes], Any]) -> Any:
        """`decode` applied to an object's bytes while they are hashed in another thread
        (hashlib and pyarrow both release the GIL); a bad hash wins over the result."""
        data = self._read_object_bytes(digest, context)
        if not verify or len(data) < _OVERLAP_BYTES:
            self._check_hash(data, digest, context, verify)
            return decode(data)
        hashing = _POOL.submit(sha256_hex, data)
        try:
            result = decode(data)
        except BaseException:
            self._check_hash(data, digest, context, True, hashing.result())
            raise
        self._check_hash(data, digest, context, True, hashing.result())
        return result

    def _read_object_bytes(self, digest: str, context: str) -> bytes:
        try:
            relpath = object_path(digest)
        except ValidationError as exc:
            raise IntegrityError(f"{context}: {exc}") from None
        try:
            data = self.read(relpath)
        except FileNotFoundError:
            raise IntegrityError(f"{context}: object {digest} is missing from {self.url!r}") \
                from None
        if self.on_transfer is not None:
            self.on_transfer(len(data))
        return data

    def _check_hash(self, data: bytes, digest: str, context: str, verify: bool,
                    actual: str | None = None) -> None:
        if not verify:
            return
        actual = actual or sha256_hex(data)
        if actual != digest:
            raise IntegrityError(f"{context}: object {digest} is corrupt (its bytes hash to "
                                 f"{actual}); restore it from a copy or roll back to a version "
                                 "that does not use it")

    def read_object(self, digest: str, context: str, verify: bool = True) -> bytes:
        """An object's bytes, checked against its hash (unless `verify` is False).

        Raises:
            IntegrityError: the hash is not a sha256, the object is missing or its bytes do
                not match (`context` says which dataset, version and file needed it).
        """
        data = self._read_object_bytes(digest, context)
        self._check_hash(data, digest, context, verify)
        return data

    def exists(self, relpath: str) -> bool:
        with self._errors(f"checking {relpath}"):
            return bool(self.fs.exists(self.path(relpath)))

    def listdir(self, relpath: str) -> list[str]:
        """Names (not paths) directly under `relpath`; empty when it does not exist."""
        with self._errors(f"listing {relpath}", missing_ok=True):
            try:
                entries = self.fs.ls(self.path(relpath), detail=False, refresh=True) \
                    if self.protocol == "s3" else self.fs.ls(self.path(relpath), detail=False)
            except FileNotFoundError:
                return []
        names = [str(e).rstrip("/").rsplit("/", 1)[-1] for e in entries]
        return sorted(n for n in names if not n.endswith(".tmp"))

    def walk_objects(self) -> list[str]:
        """Every object hash in the store (files under ``objects/`` named otherwise are left)."""
        digests: list[str] = []
        for prefix in self.listdir("objects"):
            digests.extend(n for n in self.listdir(f"objects/{prefix}")
                           if n.startswith(prefix) and _is_digest(n))
        return digests

    def temp_files(self) -> dict[str, dict[str, Any]]:
        """Every temporary file a write left behind (``*.tmp``), relative path -> details."""
        with self._errors("listing temporary files", missing_ok=True):
            try:
                found: dict[str, dict[str, Any]] = self.fs.find(self.root, detail=True)
            except FileNotFoundError:
                return {}
        prefix = self.root.rstrip("/") + "/"
        return {path[len(prefix):]: info for path, info in found.items()
                if path.endswith(".tmp") and path.startswith(prefix)}


def _durable_temp(target: str, data: bytes | memoryview) -> str:
    """Write `data` to a fsynced temporary file beside `target`; return its path."""
    os.makedirs(os.path.dirname(target), exist_ok=True)
    temp = f"{target}.{uuid.uuid4().hex}.tmp"
    try:
        with open(temp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        with suppress(OSError):  # a full disk: leave no partial file behind
            os.unlink(temp)
        raise
    return temp


def _fsync_file(path: str) -> None:
    handle = os.open(path, os.O_RDONLY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)


def _file_sha256(path: str) -> tuple[str, int]:
    """The sha256 and size of a file, read in 1 MiB pieces."""
    digest = hashlib.sha256()
    size = 0
    buffer = bytearray(1 << 20)
    view = memoryview(buffer)
    with open(path, "rb", buffering=0) as handle:
        while count := handle.readinto(buffer):
            digest.update(view[:count])
            size += count
    return digest.hexdigest(), size


def _is_digest(name: str) -> bool:
    try:
        check_digest(name)
    except ValidationError:
        return False
    return True


def object_path(digest: str) -> str:
    """Where the object `digest` lives; ValidationError unless it is a sha256."""
    check_digest(digest)
    return f"objects/{digest[:2]}/{digest}"
