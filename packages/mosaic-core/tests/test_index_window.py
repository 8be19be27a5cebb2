"""Flow control between a worker and its run's index (``mosaic_core._window``).

A worker that floods stays within the window of what the index has read and
loses nothing; an index that stands still holds it up for ``STALL`` seconds
at most, once; a descriptor that is not an index's is ignored. The worker is
a real process writing through the SDK's emitter; the test plays the
supervisor's side with the real :class:`IndexAck`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from mosaic_core._window import ENV_ACK_FD, STALL, WINDOW, IndexAck, IndexWindow, whole_lines

_FLOOD = textwrap.dedent(
    """
    import sys, time
    from mosaic_core import TelemetryEmitter
    emitter = TelemetryEmitter("flow")
    for i in range(int(sys.argv[1])):
        emitter.metrics(i, {"loss": 1.0 / (i + 1), "note": "x" * 200})
    emitter.close()
    """
)
_EVENTS = 12_000  # about 3 MB of telemetry: many windows


def _flood(
    tmp_path: Path, ack_fd: str, pass_fds: tuple[int, ...]
) -> tuple[subprocess.Popen[bytes], Path]:
    path = tmp_path / "events.jsonl"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    env = dict(os.environ, MOSAIC_TELEMETRY_FD=str(fd), MOSAIC_RUN_ID="flow")
    env[ENV_ACK_FD] = ack_fd
    try:
        proc = subprocess.Popen(
            [sys.executable, "-c", _FLOOD, str(_EVENTS)], env=env, pass_fds=(fd, *pass_fds)
        )
    finally:
        os.close(fd)
    return proc, path


def _seqs(path: Path) -> list[int]:
    return [json.loads(line)["seq"] for line in path.read_bytes().splitlines()]


def test_a_flooding_worker_stays_within_the_window_of_its_index(tmp_path: Path) -> None:
    ack = IndexAck()
    proc, path = _flood(tmp_path, str(ack.fd), (ack.fd,))
    indexed = lead = 0
    try:
        while proc.poll() is None:  # an index that reads 64 KiB every 20 ms
            time.sleep(0.02)
            size = path.stat().st_size
            lead = max(lead, size - indexed)
            indexed = min(size, indexed + (64 << 10))
            ack.tell(indexed)
        size = path.stat().st_size
    finally:
        ack.close()
    assert proc.returncode == 0
    assert _seqs(path) == list(range(_EVENTS))  # every event, once, in order
    # Never further ahead than the window (whole lines of ~260 bytes fill it); without
    # it the worker wrote all ~3 MB before this index had read a tenth of it.
    assert lead <= WINDOW, lead
    assert indexed >= size - WINDOW, (indexed, size)


def test_an_index_that_stands_still_holds_the_worker_up_once_for_stall_seconds(
    tmp_path: Path,
) -> None:
    ack = IndexAck()  # says 0 bytes indexed, and never more
    try:
        began = time.monotonic()
        proc, path = _flood(tmp_path, str(ack.fd), (ack.fd,))
        assert proc.wait(timeout=60) == 0
        took = time.monotonic() - began
    finally:
        ack.close()
    assert _seqs(path) == list(range(_EVENTS))
    # It waited for the index once, gave up after STALL, and did not wait again for
    # each of the ~20 windows that followed.
    assert STALL * 0.9 <= took < STALL + 8, took


def test_a_worker_without_a_supervisors_descriptor_never_waits(tmp_path: Path) -> None:
    ack = IndexAck()
    try:
        # The variable names a descriptor the worker did not inherit: ignored.
        proc, path = _flood(tmp_path, str(ack.fd), ())
        assert proc.wait(timeout=60) == 0
    finally:
        ack.close()
    assert _seqs(path) == list(range(_EVENTS))


@pytest.mark.parametrize("value", ["", "seven", "-1", "99999"])
def test_a_variable_that_names_no_open_descriptor_gives_no_window(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, value: str
) -> None:
    monkeypatch.setenv(ENV_ACK_FD, value)
    with (tmp_path / "out").open("wb") as out:
        assert IndexWindow.from_environ(out.fileno()) is None


def test_only_an_eight_byte_file_beside_a_regular_file_makes_a_window(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    ack = IndexAck()
    read_end, write_end = os.pipe()
    try:
        with (tmp_path / "out").open("wb") as out, (tmp_path / "other").open("wb") as other:
            other.write(b"0123456789")
            other.flush()
            monkeypatch.setenv(ENV_ACK_FD, str(ack.fd))
            assert IndexWindow.from_environ(out.fileno()) is not None
            assert IndexWindow.from_environ(write_end) is None  # telemetry into a pipe
            monkeypatch.setenv(ENV_ACK_FD, str(other.fileno()))  # some other file
            assert IndexWindow.from_environ(out.fileno()) is None
    finally:
        ack.close()
        os.close(read_end)
        os.close(write_end)


@pytest.mark.parametrize("unnamed", [True, False], ids=["O_TMPFILE", "made-then-unlinked"])
def test_the_ack_tells_the_offset_and_leaves_nothing_on_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, unnamed: bool
) -> None:
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    if not unnamed:  # a system without O_TMPFILE
        monkeypatch.delattr(os, "O_TMPFILE", raising=False)
    ack = IndexAck()
    assert list(tmp_path.iterdir()) == []
    try:
        assert os.fstat(ack.fd).st_nlink == 0  # unlinked: gone with its descriptors
        with (tmp_path / "out").open("wb") as out:
            window = IndexWindow(ack.fd, out.fileno())
            ack.tell(123_456_789)
            assert window._indexed() == 123_456_789
            out.write(b"x" * 10)
            out.flush()
            began = time.monotonic()
            assert window.room() > WINDOW  # 10 bytes ahead of nothing: the window and more
            assert time.monotonic() - began < 0.5
            ack.tell(0)
            assert window.room() == WINDOW - 10
    finally:
        ack.close()


def test_a_write_takes_the_whole_lines_that_fit_and_at_least_one() -> None:
    data = b"aaa\nbbbb\ncc\n"
    assert whole_lines(data, 100) == len(data)  # all of it fits
    assert whole_lines(data, 9) == 9  # "aaa\nbbbb\n" ends right at the room's end
    assert whole_lines(data, 8) == 4  # "aaa\n": "bbbb\n" does not fit whole
    assert whole_lines(data, 2) == 4  # a line longer than the room: that line whole
    assert whole_lines(memoryview(b"no newline at all"), 3) == 17
