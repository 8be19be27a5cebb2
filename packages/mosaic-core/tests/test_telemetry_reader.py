from __future__ import annotations

import io
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mosaic_core import TelemetryEmitter
from mosaic_core.runs import Anomaly, LogLine, TelemetryEvent, TelemetryReader, read_events
from mosaic_core.runs import reader as reader_module

_ORJSON = reader_module.fast_loads


pytestmark = pytest.mark.usefixtures("each_decoder")  # every test, with each decoder


def envelope(seq: int, event: str = "heartbeat", **fields: Any) -> bytes:
    obj = {"v": 1, "event": event, "run_id": "r", "seq": seq, "timestamp": 1.5, "payload": {}}
    obj.update(fields)
    return json.dumps(obj).encode() + b"\n"


def parse(data: bytes, **options: Any) -> list[Any]:
    reader = TelemetryReader(**options)
    return reader.feed(data) + reader.close()


def anomalies(items: list[Any]) -> list[str]:
    return [i.kind for i in items if isinstance(i, Anomaly)]


def events_of(items: list[Any]) -> list[TelemetryEvent]:
    return [i for i in items if isinstance(i, TelemetryEvent)]


# -- events and log lines ----------------------------------------------------------


def test_envelope_becomes_telemetry_event() -> None:
    line = envelope(0, "metrics", payload={"step": 1, "values": {"x": 2.0}})
    (item,) = parse(line)
    assert item == TelemetryEvent(
        event="metrics",
        run_id="r",
        seq=0,
        timestamp=1.5,
        payload={"step": 1, "values": {"x": 2.0}},
        raw=line.rstrip(b"\n"),
    )
    assert not item.is_terminal


def test_reader_parses_what_the_emitter_writes() -> None:
    sink = io.BytesIO()
    em = TelemetryEmitter("run-9", stream=sink)
    with em.lifecycle(heartbeat_interval=None, total_steps=3) as run:
        for step in range(3):
            run.metrics(step, {"loss": 1.0 / (step + 1)})
    reader = TelemetryReader(expected_run_id="run-9")
    items = reader.feed(sink.getvalue()) + reader.close()
    assert [i.event for i in items] == ["run_started"] + ["metrics"] * 3 + ["run_completed"]
    assert reader.terminal is not None and reader.terminal.event == "run_completed"
    assert reader.gaps == []
    assert reader.events_seen == 5
    assert reader.next_seq == 5


@pytest.mark.parametrize(
    "line",
    [
        b"Epoch 1/10 loss=0.3",
        b"",
        b"   ",
        b"[1, 2, 3]",
        b'"a json string"',
        b"{not json at all",
        b'{"level": "info", "msg": "a JSON log line"}',
        b'{"event": "heartbeat"}',
        b'{"v": 1}',
        b"\xc3\xa9t\xc3\xa9 \xe2\x9c\x93",
        b"{" + b'"a":' * 3 + b"1",
        b"windows line\r",
    ],
)
def test_anything_not_an_envelope_is_a_log_line(line: bytes) -> None:
    (item,) = parse(line + b"\n")
    assert item == LogLine(line.decode("utf-8"), line)


def test_deeply_nested_json_is_a_log_line_not_a_crash() -> None:
    line = b'{"a":' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    (item,) = parse(line + b"\n")
    assert isinstance(item, LogLine)


def test_log_lines_do_not_disturb_seq_accounting() -> None:
    items = parse(envelope(0) + b"hello\n" + envelope(1) + b"\n" + envelope(2, "run_completed"))
    assert anomalies(items) == []
    assert [type(i).__name__ for i in items] == [
        "TelemetryEvent",
        "LogLine",
        "TelemetryEvent",
        "LogLine",
        "TelemetryEvent",
    ]


# -- anomalies ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "line",
    [
        b"\xff\xfe garbage",
        b"caf\xe9",
        b'{"v":1,"event":"heartbeat","run_id":"\xff"}',
        b'{"v":1,"event":"heartbeat","run_id":"r","seq":0,"timestamp":1,"payload":{"a":"\xed\xa0\x80"}}',
        b'{"lone surrogate":"\xed\xa0\x80"}',
    ],
)
def test_invalid_utf8_is_an_anomaly(line: bytes) -> None:
    (item,) = parse(line + b"\n")
    assert isinstance(item, Anomaly)
    assert item.kind == "invalid_utf8"
    assert item.raw == line[:200]


def test_overlong_line_in_one_chunk_is_dropped_and_reported() -> None:
    reader = TelemetryReader(max_line_bytes=100)
    items = reader.feed(b"x" * 101 + b"\n" + envelope(0)) + reader.close()
    assert anomalies(items) == ["line_too_long"]
    assert "101 bytes; the limit is 100 bytes" in items[0].detail
    assert [e.seq for e in events_of(items)] == [0]


def test_overlong_line_across_chunks_is_dropped_and_reported() -> None:
    reader = TelemetryReader(max_line_bytes=100)
    items = []
    for _ in range(50):
        items += reader.feed(b"y" * 64)
    items += reader.feed(b"yy\n" + envelope(0))
    items += reader.close()
    assert anomalies(items) == ["line_too_long"]
    assert "3202 bytes" in items[0].detail
    assert items[0].raw == b"y" * 200
    assert [e.seq for e in events_of(items)] == [0]


def test_overlong_line_at_end_of_stream_is_reported_once() -> None:
    reader = TelemetryReader(max_line_bytes=10)
    items = reader.feed(b"z" * 50) + reader.feed(b"z" * 50) + reader.close()
    assert anomalies(items) == ["line_too_long"]
    assert "100 bytes" in items[0].detail


def test_line_exactly_at_the_limit_is_kept() -> None:
    line = envelope(0)
    items = parse(line, max_line_bytes=len(line) - 1)
    assert events_of(items) and anomalies(items) == []


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"v": 2}, "'v' is 2"),
        ({"v": "1"}, "'v' is '1'"),
        ({"event": 7}, "'event' is 7"),
        ({"run_id": None}, "'run_id' is None"),
        ({"seq": -1}, "'seq' is -1"),
        ({"seq": "3"}, "'seq' is '3'"),
        ({"seq": 1.0}, "'seq' is 1.0"),
        ({"seq": True}, "'seq' is True"),
        ({"timestamp": "now"}, "'timestamp' is 'now'"),
        ({"timestamp": False}, "'timestamp' is False"),
        ({"timestamp": None}, "'timestamp' is None"),
        ({"payload": [1]}, "'payload' is list"),
        ({"payload": None}, "'payload' is NoneType"),
    ],
)
def test_bad_envelope_is_an_anomaly_naming_the_field(changes: dict[str, Any], problem: str) -> None:
    line = envelope(**{"seq": 0, **changes})
    (item,) = parse(line)
    assert item.kind == "bad_envelope"
    assert problem in item.detail
    assert item.raw == line.rstrip(b"\n")


@pytest.mark.parametrize("timestamp", [b"1" + b"0" * 400, b"NaN", b"Infinity", b"-Infinity"])
def test_timestamp_that_is_not_a_finite_number_is_a_bad_envelope(timestamp: bytes) -> None:
    line = (
        b'{"v":1,"event":"heartbeat","run_id":"r","seq":0,"timestamp":'
        + timestamp
        + b',"payload":{}}\n'
    )
    (item,) = parse(line)
    assert item.kind == "bad_envelope"
    assert "'timestamp'" in item.detail


def test_missing_envelope_field_is_a_bad_envelope() -> None:
    line = b'{"v":1,"event":"heartbeat","run_id":"r","seq":0,"payload":{}}\n'
    assert anomalies(parse(line)) == ["bad_envelope"]


def test_bad_envelope_does_not_count_as_a_seq() -> None:
    items = parse(envelope(0, payload=3) + envelope(0) + envelope(1))
    assert anomalies(items) == ["bad_envelope"]
    assert [e.seq for e in events_of(items)] == [0, 1]


def test_unknown_event_is_reported_and_still_counted() -> None:
    items = parse(envelope(0) + envelope(1, "progress") + envelope(2))
    assert anomalies(items) == ["unknown_event"]
    assert "unknown event 'progress' (seq 1)" in items[1].detail
    assert [e.seq for e in events_of(items)] == [0, 1, 2]


def test_seq_gap_is_an_anomaly_and_recorded() -> None:
    reader = TelemetryReader()
    items = reader.feed(envelope(0) + envelope(3) + envelope(4) + envelope(7)) + reader.close()
    assert anomalies(items) == ["seq_gap", "seq_gap"]
    assert reader.gaps == [(1, 2), (5, 6)]
    assert "seq 1..2 missing before heartbeat" in items[1].detail
    assert reader.next_seq == 8


def test_stream_not_starting_at_zero_is_a_gap() -> None:
    reader = TelemetryReader()
    reader.feed(envelope(2))
    assert reader.gaps == [(0, 1)]


@pytest.mark.parametrize("repeat", [0, 1])
def test_seq_repeat_is_an_anomaly(repeat: int) -> None:
    reader = TelemetryReader()
    items = reader.feed(envelope(0) + envelope(1) + envelope(repeat) + envelope(2))
    assert anomalies(items) == ["seq_repeat"]
    assert f"seq {repeat} after 1" in next(i for i in items if isinstance(i, Anomaly)).detail
    assert reader.next_seq == 3
    assert reader.gaps == []


@pytest.mark.parametrize("terminal", ["run_completed", "run_failed", "run_cancelled"])
def test_events_after_terminal_are_anomalies(terminal: str) -> None:
    reader = TelemetryReader()
    items = reader.feed(envelope(0, terminal) + envelope(1) + envelope(2, "run_failed"))
    assert anomalies(items) == ["event_after_terminal", "event_after_terminal"]
    assert reader.terminal is not None and reader.terminal.event == terminal
    assert reader.terminal.is_terminal


def test_event_of_another_run_is_an_anomaly() -> None:
    items = parse(envelope(0, run_id="other"), expected_run_id="mine")
    assert anomalies(items) == ["run_id_mismatch"]
    assert "'other' on the channel of 'mine'" in items[0].detail
    assert events_of(items)[0].run_id == "other"


def test_truncated_last_line_is_an_anomaly_on_close() -> None:
    line = envelope(0)
    reader = TelemetryReader()
    assert reader.feed(line + line[:20]) == events_of(parse(line))
    (item,) = reader.close()
    assert item.kind == "truncated_line"
    assert item.raw == line[:20]
    assert "20 bytes" in item.detail


def test_complete_stream_has_nothing_left_on_close() -> None:
    reader = TelemetryReader()
    reader.feed(envelope(0))
    assert reader.close() == []


def test_read_events_reads_a_file_and_reports_close_anomalies(tmp_path: Any) -> None:
    path = tmp_path / "events.jsonl"
    path.write_bytes(envelope(0) + b"log\n" + envelope(1)[:10])
    with path.open("rb") as fh:
        items = list(read_events(fh))
    assert [type(i).__name__ for i in items] == ["TelemetryEvent", "LogLine", "Anomaly"]
    assert items[-1].kind == "truncated_line"


def test_read_events_accepts_chunks_and_options() -> None:
    chunks = [envelope(0)[:7], envelope(0)[7:], envelope(1, run_id="x")]
    items = list(read_events(chunks, expected_run_id="r"))
    assert anomalies(items) == ["run_id_mismatch"]


# -- chunk boundaries --------------------------------------------------------------

PAYLOAD_VALUES = st.one_of(
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=10),
    st.booleans(),
    st.none(),
)
STREAM_LINES = st.lists(
    st.one_of(
        st.tuples(
            st.sampled_from(["heartbeat", "metrics", "checkpoint_saved", "run_completed"]),
            st.dictionaries(st.text(max_size=8), PAYLOAD_VALUES, max_size=4),
        ),
        st.text(max_size=30).filter(lambda s: "\n" not in s and "\r" not in s),
        st.binary(max_size=30).filter(lambda b: b"\n" not in b),
    ),
    max_size=25,
)


def build_stream(lines: list[Any], seq_skips: list[int]) -> bytes:
    out, seq = [], 0
    for index, line in enumerate(lines):
        if isinstance(line, tuple):
            event, payload = line
            seq += seq_skips[index % len(seq_skips)] if seq_skips else 0
            out.append(envelope(seq, event, payload=payload).rstrip(b"\n"))
            seq += 1
        elif isinstance(line, str):
            out.append(line.encode("utf-8"))
        else:
            out.append(line)
    return b"\n".join(out) + b"\n"


@given(
    lines=STREAM_LINES,
    seq_skips=st.lists(st.integers(-1, 2), max_size=4),
    cuts=st.lists(st.integers(min_value=0), max_size=30),
    truncate=st.booleans(),
)
def test_chunk_boundaries_do_not_change_what_is_parsed(
    lines: list[Any], seq_skips: list[int], cuts: list[int], truncate: bool
) -> None:
    stream = build_stream(lines, seq_skips)
    if truncate:
        stream = stream[:-1]
    whole = TelemetryReader(max_line_bytes=120)
    expected = whole.feed(stream) + whole.close()

    points = sorted({c % (len(stream) + 1) for c in cuts})
    chunks = [stream[a:b] for a, b in zip([0, *points], [*points, len(stream)], strict=True)]
    split = TelemetryReader(max_line_bytes=120)
    got = [item for chunk in chunks for item in split.feed(chunk)] + split.close()

    assert got == expected
    assert (split.gaps, split.next_seq, split.terminal) == (
        whole.gaps,
        whole.next_seq,
        whole.terminal,
    )


@given(st.lists(st.tuples(st.sampled_from(["heartbeat", "metrics"]), st.text(max_size=5))))
def test_byte_by_byte_feed_matches_one_feed(lines: list[tuple[str, str]]) -> None:
    stream = b"".join(envelope(i, e, payload={"s": s}) for i, (e, s) in enumerate(lines))
    byte_reader = TelemetryReader()
    got = [item for i in range(len(stream)) for item in byte_reader.feed(stream[i : i + 1])]
    assert got == parse(stream)
    assert all(isinstance(i, TelemetryEvent) for i in got)


@given(st.lists(st.binary(max_size=60), max_size=20))
def test_reader_never_raises_on_arbitrary_bytes(chunks: list[bytes]) -> None:
    reader = TelemetryReader(max_line_bytes=50)
    items = [item for chunk in chunks for item in reader.feed(chunk)] + reader.close()
    assert all(isinstance(i, (TelemetryEvent, LogLine, Anomaly)) for i in items)


# -- the fast decoder and the standard library read alike ------------------------------

# What orjson would read otherwise than json.loads: huge integers (it makes them floats),
# NaN and infinities, lone surrogates, and numbers of every shape around 64 bits.
TRICKY_LINES = [
    b'{"v":1,"event":"metrics","run_id":"r","seq":0,"timestamp":1.5,'
    b'"payload":{"step":123456789012345678901234567890,"values":{"x":1.0}}}',
    b'{"v":1,"event":"metrics","run_id":"r","seq":0,"timestamp":1.5,'
    b'"payload":{"step":3,"values":{"x":-9223372036854775809}}}',
    b'{"v":1,"event":"metrics","run_id":"r","seq":0,"timestamp":1.5,'
    b'"payload":{"step":3,"values":{"x":NaN,"y":Infinity,"z":1e400}}}',
    b'{"v":1,"event":"metrics","run_id":"r","seq":0,"timestamp":1.5,'
    b'"payload":{"step":3,"values":{"\\ud800":1.0}}}',
    b'{"v":1,"event":"heartbeat","run_id":"r","seq":99999999999999999999,"timestamp":1.5,'
    b'"payload":{}}',
    b'{"v":1,"event":"heartbeat","run_id":"r","seq":0,"timestamp":1e999,"payload":{}}',
    b'{"v":1,"event":"heartbeat","run_id":"r","seq":0,"timestamp":17,"payload":{}}',
    b'{"v":1,"event":"heartbeat","run_id":"r","seq":0,"timestamp":1.5,"payload":{}}\r',
    b' {"v":1,"event":"heartbeat","run_id":"r","seq":0,"timestamp":1.5,"payload":{}}',
    b'{"v":1,"event":"heartbeat","run_id":"r","seq":0,"timestamp":1.5,"payload":{"\xed\xa0\x80":1}}',
    b'{"v":true,"event":"heartbeat","run_id":"r","seq":0,"timestamp":1.5,"payload":{}}',
    b'{"v":1,"event":"run_completed","run_id":"r","seq":0,"timestamp":1.5,"payload":{}}',
    b'{"v":1,"event":"metrics","run_id":"other","seq":0,"timestamp":1.5,"payload":{}}',
    b'{"v":1,"event":"metrics","run_id":"r","seq":0,"timestamp":1.5,"payload":{"step":1.5}}',
    b'{"v":1,"event":"metrics","run_id":"r","seq":0,"timestamp":1.5,"payload":{"step":true}}',
    b'{"v":1,"event":"metrics","run_id":"r","seq":0,"timestamp":1.5,"payload":[]}',
    b'{"v":1,"event":"metrics","run_id":"r","seq":0,"timestamp":1.5,"payload":{},"v":2}',
]
JSON_NUMBERS = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(),
    st.sampled_from([2**63 - 1, 2**63, 2**64 - 1, 2**64, -(2**63), -(2**63) - 1]),
)


def read_both(stream: bytes, **options: Any) -> tuple[list[Any], list[Any]]:
    """What the reader makes of ``stream`` with orjson and with json.loads."""
    got = []
    saved = reader_module.fast_loads
    try:
        for loads in (_ORJSON, None):
            reader_module.fast_loads = loads
            got.append(parse(stream, **options))
    finally:
        reader_module.fast_loads = saved
    return got[0], got[1]


@pytest.mark.skipif(_ORJSON is None, reason="orjson is not installed")
@pytest.mark.parametrize("line", TRICKY_LINES)
def test_both_decoders_read_a_tricky_line_alike(line: bytes) -> None:
    fast, stdlib = read_both(line + b"\n", expected_run_id="r")
    assert repr(fast) == repr(stdlib)  # repr: NaN != NaN, and 1 == 1.0 == True


@pytest.mark.skipif(_ORJSON is None, reason="orjson is not installed")
@given(
    step=JSON_NUMBERS,
    values=st.dictionaries(st.text(max_size=4), JSON_NUMBERS, max_size=4),
    seq=st.sampled_from([0, 1, 2**63 - 2, 2**63 - 1, 2**64]),
    clean=st.booleans(),
)
def test_both_decoders_read_any_metrics_event_alike(
    step: Any, values: dict[str, Any], seq: int, clean: bool
) -> None:
    lines = [envelope(0, "metrics", payload={"step": step, "values": values})]
    if not clean:  # a huge integer elsewhere in the chunk puts every line on the slow path
        lines.append(envelope(1, "heartbeat", payload={"n": 2**65}))
    lines.append(envelope(seq, "metrics", payload={"step": 1, "values": values}))
    fast, stdlib = read_both(b"".join(lines), expected_run_id="r")
    assert repr(fast) == repr(stdlib)
