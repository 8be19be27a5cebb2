"""Parse a telemetry stream: events, log lines and anomalies, in order (the host's reader)."""

from mosaic_core.runs import Anomaly, LogLine, TelemetryEvent, TelemetryReader

chunk = (
    b'{"v":1,"event":"run_started","run_id":"r1","seq":0,"timestamp":1.0,"payload":{}}\n'
    b"Epoch 1/10 loss=0.31\n"
    b'{"v":1,"event":"metrics","run_id":"r1","seq":2,"timestamp":2.0,'
    b'"payload":{"step":5,"values":{}}}\n'
    b'{"v":1,"event":"run_completed","run_id":"r1","seq":3,"timestamp":3.0,"payload":{}}\n'
    b'{"v":1,"event":"heartbeat","run_id":"r1","seq":4,"tim'
)

reader = TelemetryReader(expected_run_id="r1")
for item in reader.feed(chunk) + reader.close():
    if isinstance(item, TelemetryEvent):
        print("event  ", item.seq, item.event, item.payload)
    elif isinstance(item, LogLine):
        print("log    ", item.text)
    elif isinstance(item, Anomaly):
        print("anomaly", item.kind, "-", item.detail)
print("gaps:", reader.gaps, "terminal:", reader.terminal and reader.terminal.event)
