"""fastlane: a shared-memory ring of RGB frames, so pixels never travel as JSON.

One writer (the process that renders) and any number of readers (front
ends, ``mosaic eval --record``) share one segment, named after the run::

    header (64 bytes, little-endian)
      0  magic "MOSAICFL"     8  version u32     12  header size u32
     16  width u32           20  height u32      24  channels u32
     28  capacity u32        32  slot size u64   40  writer pid u32
     44  flags u32           48  writer start u64 (kernel clock ticks)
     56  frames published u64
    slot i, at 64 + i * slot size
      0  sequence u64 (odd while the writer is inside the slot)
      8  frame number u64     16  timestamp f64    64  pixels (height*width*channels)

Frame ``n`` goes to slot ``n % capacity``. The writer never waits for
anyone: it makes the slot's sequence odd, writes the pixels, makes it even
again, then counts the frame as published. A reader copies a slot between
two reads of its sequence and keeps the copy only if both reads are equal
and even, so it gets the newest complete frame or nothing, never a torn one.
(This relies on stores becoming visible in program order, as they do on
x86-64; the sequence fields are written as whole aligned 64-bit words.)

Segments are created without Python's ``resource_tracker``: it would unlink
a segment when any *reader* exits and warn about segments it did not create.
The writer unlinks its segment when it closes or its process exits; after a
crash, :func:`cleanup_stale` (called by every new writer, by readers that
find their writer dead and by :class:`~mosaic_core.operators.client.OperatorClient`)
removes segments whose writer is gone. Importing this module needs no numpy.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import re
import struct
import sys
import threading
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import attrs

from mosaic_core import _procs as procs
from mosaic_core._errors import ProtocolError

if TYPE_CHECKING:  # loaded by the first segment opened: a run's end only looks for one
    from multiprocessing import shared_memory

__all__ = [
    "PREFIX",
    "VERSION",
    "FastlaneReader",
    "FastlaneWriter",
    "Frame",
    "cleanup_stale",
    "segment_name",
]

VERSION = 1
PREFIX = "mosaicfl-"
_MAGIC = b"MOSAICFL"
_HEADER = struct.Struct("<8sIIIIIIQIIQQ")
_HEADER_SIZE = 64
_SLOT_HEADER = 64
_Q_COUNT = 56 // 8  # index of "frames published" in the 64-bit view
_FLAG_CLOSED = 1
_SHM_DIR = "/dev/shm"
_NAME_OK = re.compile(r"[^A-Za-z0-9_.-]")
_tracker_lock = threading.Lock()


class _NoTracker:
    """Stands in for ``multiprocessing.resource_tracker`` while we open a segment."""

    @staticmethod
    def register(name: str, rtype: str) -> None:
        return None

    @staticmethod
    def unregister(name: str, rtype: str) -> None:
        return None


@contextlib.contextmanager
def _untracked() -> Iterator[None]:
    # Python < 3.13 registers every segment it opens, even one it only attaches to.
    from multiprocessing import shared_memory

    with _tracker_lock:
        saved = shared_memory.resource_tracker  # type: ignore[attr-defined]
        shared_memory.resource_tracker = _NoTracker  # type: ignore[attr-defined]
        try:
            yield
        finally:
            shared_memory.resource_tracker = saved  # type: ignore[attr-defined]


def _open(name: str, *, create: bool = False, size: int = 0) -> shared_memory.SharedMemory:
    from multiprocessing import shared_memory

    if sys.version_info >= (3, 13):
        return shared_memory.SharedMemory(name, create=create, size=size, track=False)
    with _untracked():
        return shared_memory.SharedMemory(name, create=create, size=size)


def _unlink(name: str) -> bool:
    """Remove a segment by name; False if it was already gone."""
    try:
        segment = _open(name)
    except FileNotFoundError:
        return False
    try:
        with _untracked():
            segment.unlink()
    except FileNotFoundError:
        return False
    finally:
        segment.close()
    return True


def segment_name(run_id: str, stream: str | int | None = None) -> str:
    """The segment name for a run (and one of its streams, when it has several)."""
    base = _NAME_OK.sub("_", str(run_id)) or "run"
    if stream is not None:
        base += "-" + _NAME_OK.sub("_", str(stream))
    name = PREFIX + base
    if sys.platform == "darwin" and len(name) > 30:  # macOS: PSHMNAMLEN is 31
        import hashlib

        name = "mfl-" + hashlib.blake2b(name.encode(), digest_size=12).hexdigest()
    return name


@attrs.frozen
class Frame:
    """One frame copied out of the ring: ``pixels`` is ``height*width*channels`` bytes."""

    number: int
    timestamp: float
    width: int
    height: int
    channels: int
    pixels: bytes

    def to_array(self) -> Any:
        """The frame as a ``(height, width, channels)`` uint8 numpy array (needs numpy)."""
        import importlib

        np = importlib.import_module("numpy")
        return np.frombuffer(self.pixels, dtype=np.uint8).reshape(
            self.height, self.width, self.channels
        )


class _Ring:
    """What writer and reader share: the mapped segment and its geometry."""

    def __init__(self, segment: shared_memory.SharedMemory) -> None:
        self.segment = segment
        self.name = segment.name.lstrip("/")
        buf = segment.buf
        if buf is None or len(buf) < _HEADER_SIZE:
            raise ProtocolError(f"fastlane segment {self.name!r} is too small to hold a header")
        (magic, version, header_size, width, height, channels, capacity, slot_size,
         pid, _flags, start, _count) = _HEADER.unpack_from(buf, 0)  # fmt: skip
        if magic != _MAGIC:
            raise ProtocolError(f"{self.name!r} is not a fastlane segment (magic {magic!r})")
        if version != VERSION:
            raise ProtocolError(
                f"fastlane segment {self.name!r} has layout version {version}; "
                f"this mosaic-core reads version {VERSION}"
            )
        self.width: int = width
        self.height: int = height
        self.channels: int = channels
        self.capacity: int = capacity
        self.slot_size: int = slot_size
        self.header_size: int = header_size
        self.frame_bytes = width * height * channels
        self.writer_pid: int = pid
        self.writer_start: int = start
        self.buf = buf
        self.released = False
        end = header_size + capacity * slot_size
        self.words = buf[:end].cast("Q")

    def slot_offset(self, number: int) -> int:
        return self.header_size + (number % self.capacity) * self.slot_size

    @property
    def published(self) -> int:
        return int(self.words[_Q_COUNT])

    @property
    def flags(self) -> int:
        return int(struct.unpack_from("<I", self.buf, 44)[0])

    def release(self) -> None:
        self.released = True
        with contextlib.suppress(Exception):
            self.words.release()
        with contextlib.suppress(Exception):
            self.segment.close()


class FastlaneWriter:
    """Publishes frames of one fixed size; never blocks, whatever the readers do.

    Create it with :meth:`create`; :meth:`close` (or the end of the process)
    removes the segment. Not thread-safe: one thread publishes.
    """

    def __init__(self, ring: _Ring) -> None:
        self._ring = ring
        self._count = ring.published
        self._closed = False
        atexit.register(self.close)

    @classmethod
    def create(
        cls,
        name: str,
        *,
        width: int,
        height: int,
        channels: int = 3,
        capacity: int = 8,
        replace: bool = True,
    ) -> FastlaneWriter:
        """A new ring named ``name`` (see :func:`~mosaic_core._fastlane.segment_name`).

        A segment of that name left by a dead writer is removed first; one
        whose writer is alive is replaced only if ``replace`` is true.
        """
        for value, what in ((width, "width"), (height, "height"), (channels, "channels")):
            if not isinstance(value, int) or value <= 0:
                raise ProtocolError(f"fastlane {what}: got {value!r}; expected an int > 0")
        if not isinstance(capacity, int) or capacity < 2:
            raise ProtocolError(f"fastlane capacity: got {capacity!r}; expected an int >= 2")
        cleanup_stale()
        frame_bytes = width * height * channels
        slot_size = _SLOT_HEADER + -(-frame_bytes // 64) * 64
        size = _HEADER_SIZE + capacity * slot_size
        try:
            segment = _open(name, create=True, size=size)
        except FileExistsError:
            if not replace and _writer_alive(name):
                raise ProtocolError(
                    f"fastlane segment {name!r} is in use by a live writer; choose another name"
                ) from None
            _unlink(name)
            segment = _open(name, create=True, size=size)
        pid = os.getpid()
        start = int(procs.start_time(pid) or 0)
        assert segment.buf is not None
        _HEADER.pack_into(
            segment.buf, 0, _MAGIC, VERSION, _HEADER_SIZE, width, height, channels, capacity,
            slot_size, pid, 0, start, 0,
        )  # fmt: skip
        return cls(_Ring(segment))

    @property
    def name(self) -> str:
        return self._ring.name

    @property
    def shape(self) -> tuple[int, int, int]:
        return (self._ring.height, self._ring.width, self._ring.channels)

    @property
    def published(self) -> int:
        """How many frames were published; the newest is number ``published - 1``."""
        return self._count

    def publish(self, frame: Any) -> int:
        """Copy one ``(height, width, channels)`` uint8 frame into the ring; returns its number.

        ``frame`` is anything exposing the buffer protocol (a numpy array,
        bytes) holding exactly ``height * width * channels`` bytes.
        """
        ring = self._ring
        if self._closed:
            raise ProtocolError(f"fastlane writer {ring.name!r} is closed")
        shape = getattr(frame, "shape", None)
        if shape is not None and tuple(shape) != self.shape:
            raise ProtocolError(
                f"fastlane {ring.name!r}: got a frame of shape {tuple(shape)}; expected "
                f"{self.shape} (height, width, channels)"
            )
        try:
            data = memoryview(frame).cast("B")
        except TypeError:  # not C-contiguous
            data = memoryview(frame.tobytes())
        if data.nbytes != ring.frame_bytes:
            raise ProtocolError(
                f"fastlane {ring.name!r}: got {data.nbytes} bytes; expected {ring.frame_bytes}"
            )
        number = self._count
        offset = ring.slot_offset(number)
        word = offset // 8
        words = ring.words
        sequence = int(words[word])
        words[word] = sequence + 1 if sequence % 2 == 0 else sequence + 2  # odd: writing
        words[word + 1] = number
        struct.pack_into("<d", ring.buf, offset + 16, time.time())
        pixels = offset + _SLOT_HEADER
        ring.buf[pixels : pixels + ring.frame_bytes] = data
        words[word] = int(words[word]) + 1  # even: complete
        self._count = number + 1
        words[_Q_COUNT] = self._count
        return number

    def close(self) -> None:
        """Unlink the segment; readers still attached keep their mapping until they close."""
        if self._closed:
            return
        self._closed = True
        atexit.unregister(self.close)
        with contextlib.suppress(Exception):
            struct.pack_into("<I", self._ring.buf, 44, self._ring.flags | _FLAG_CLOSED)
        name = self._ring.name
        self._ring.release()
        _unlink(name)

    def __enter__(self) -> FastlaneWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class FastlaneReader:
    """Reads frames from a ring another process writes. Never blocks the writer."""

    def __init__(self, name: str) -> None:
        try:
            segment = _open(name)
        except FileNotFoundError:
            raise ProtocolError(
                f"no fastlane segment named {name!r}: its writer has not started or has ended"
            ) from None
        self._ring = _Ring(segment)
        self.name = self._ring.name

    @property
    def shape(self) -> tuple[int, int, int]:
        ring = self._ring
        return (ring.height, ring.width, ring.channels)

    @property
    def published(self) -> int:
        return self._ring.published

    @property
    def writer_alive(self) -> bool:
        ring = self._ring
        if ring.flags & _FLAG_CLOSED:
            return False
        return procs.alive(ring.writer_pid, str(ring.writer_start) if ring.writer_start else None)

    def _copy(self, number: int | None) -> Frame | None:
        ring = self._ring
        words, buf = ring.words, ring.buf
        offset = ring.slot_offset(number if number is not None else max(ring.published - 1, 0))
        word = offset // 8
        before = int(words[word])
        if before % 2:
            return None
        found = int(words[word + 1])
        (stamp,) = struct.unpack_from("<d", buf, offset + 16)
        pixels = bytes(buf[offset + _SLOT_HEADER : offset + _SLOT_HEADER + ring.frame_bytes])
        if int(words[word]) != before or before == 0:
            return None
        if number is not None and found != number:
            return None
        return Frame(found, stamp, ring.width, ring.height, ring.channels, pixels)

    def latest(self) -> Frame | None:
        """The newest complete frame, or None if there is none yet (or the writer raced ahead)."""
        for _ in range(self._ring.capacity + 2):
            if self._ring.published == 0:
                return None
            frame = self._copy(None)
            if frame is not None:
                return frame
        return None

    def read(self, number: int) -> Frame | None:
        """Frame ``number`` if it is still in the ring and complete, else None."""
        if number < 0 or number >= self._ring.published:
            return None
        return self._copy(number)

    def close(self, *, cleanup: bool = True) -> None:
        """Detach; with ``cleanup``, also remove the segment if its writer is dead."""
        if self._ring.released:
            return
        orphaned = cleanup and not self.writer_alive
        self._ring.release()
        if orphaned:
            _unlink(self.name)

    def __enter__(self) -> FastlaneReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _writer_alive(name: str) -> bool:
    try:
        reader = FastlaneReader(name)
    except (ProtocolError, OSError, ValueError):
        return False
    try:
        return reader.writer_alive
    finally:
        reader.close(cleanup=False)


def cleanup_stale(prefix: str = PREFIX, *, min_age: float = 5.0) -> list[str]:
    """Remove fastlane segments whose writer has died; returns the names removed.

    Lists ``/dev/shm`` (Linux); elsewhere nothing can be listed and nothing
    is removed. A segment without a valid header is removed once it is
    ``min_age`` seconds old (a writer that died while creating it).
    """
    try:
        names = [n for n in os.listdir(_SHM_DIR) if n.startswith(prefix)]
    except OSError:
        return []
    removed = []
    for name in names:
        try:
            reader = FastlaneReader(name)
        except ProtocolError:
            with contextlib.suppress(OSError):
                age = time.time() - os.stat(os.path.join(_SHM_DIR, name)).st_mtime
                if age >= min_age and _unlink(name):
                    removed.append(name)
            continue
        except (OSError, ValueError):
            continue
        alive = reader.writer_alive
        reader.close(cleanup=False)
        if not alive and _unlink(name):
            removed.append(name)
    return removed
