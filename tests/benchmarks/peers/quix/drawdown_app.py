"""ebb's drawdown job as a Quix Streams application: ebb.prices in, ebb.v1.Alert out.

    python drawdown_app.py --brokers B [--input ebb.prices] [--output peers.quix.alerts]
        [--group peers-quix] [--state-dir DIR] [--exit-when-idle SECONDS]

The ebb.v1 classes are generated at start-up with the protoc on PATH from the repository's
proto/ into a temporary directory. With --exit-when-idle it stops (committing) once no message
arrived for that long and prints its counters and process CPU time on stderr.
"""

import argparse
import glob
import math
import os
import subprocess
import sys
import tempfile
import time

import drawdown

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))


def load_protos():
    proto_dir = os.path.join(REPO, "proto")
    out = tempfile.mkdtemp(prefix="peers-quix-proto-")
    subprocess.run(
        ["protoc", f"-I{proto_dir}", f"--python_out={out}",
         *sorted(glob.glob(os.path.join(proto_dir, "ebb", "v1", "*.proto")))],
        check=True)
    sys.path.insert(0, out)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--brokers", required=True)
    parser.add_argument("--input", default="ebb.prices")
    parser.add_argument("--output", default="peers.quix.alerts")
    parser.add_argument("--group", default="peers-quix")
    parser.add_argument("--state-dir", default=None)
    parser.add_argument("--exit-when-idle", type=float, default=0.0)
    args = parser.parse_args()

    load_protos()
    from ebb.v1 import alert_pb2, events_pb2
    from quixstreams import Application
    from quixstreams.models.serializers.protobuf import (ProtobufDeserializer,
                                                         ProtobufSerializer)

    app = Application(
        broker_address=args.brokers,
        consumer_group=args.group,
        auto_offset_reset="earliest",
        processing_guarantee="at-least-once",
        state_dir=args.state_dir or os.path.join(tempfile.gettempdir(), "peers-quix-state"),
        loglevel="WARNING",
    )
    prices = app.topic(args.input, key_deserializer="str",
                       value_deserializer=ProtobufDeserializer(events_pb2.PriceEvent,
                                                               to_dict=False))
    alerts = app.topic(args.output, key_serializer="str",
                       value_serializer=ProtobufSerializer(alert_pb2.Alert))

    counters = {"applied": 0, "rejected": 0, "late": 0, "alerts": 0}
    cpu_at_first_event = []
    Alert = alert_pb2.Alert

    def on_price(event, key, timestamp, headers, state):
        if not cpu_at_first_event:
            cpu_at_first_event.append(time.process_time())
        symbol, price = event.symbol, event.price
        if (not symbol or symbol != key or not price > 0 or math.isinf(price)
                or not event.HasField("event_time")):
            counters["rejected"] += 1
            return ()
        t = event.event_time.seconds * 1_000_000_000 + event.event_time.nanos
        w = state.get("w")
        if w is None:
            w = drawdown.new_state(t)
        elif t < w[drawdown.NEWEST]:
            counters["late"] += 1
            return ()
        peak, value, outcome = drawdown.apply(w, t, price)
        state.set("w", w)
        counters["applied"] += 1
        if outcome is None:
            return ()
        counters["alerts"] += 1
        transition, level, start = outcome
        alert = Alert(
            id=drawdown.alert_id(symbol, drawdown.RULE, start, transition, level),
            symbol=symbol, rule=drawdown.RULE, transition=transition,
            level=drawdown.LEVELS[level], severity=drawdown.SEVERITIES[level],
            metric="drawdown", value=value, price=price, full_window=w[drawdown.FIRST]
            <= t - drawdown.WINDOW_NS)
        alert.event_time.CopyFrom(event.event_time)
        alert.episode_start.FromNanoseconds(start)
        alert.peak.price = peak
        alert.peak.time.FromNanoseconds(w[drawdown.TIMES][0])
        alert.window.FromSeconds(drawdown.WINDOW_NS // 1_000_000_000)
        alert.provenance.source = args.input
        alert.provenance.event_id = event.event_id
        return (alert,)

    app.dataframe(prices).apply(on_price, stateful=True, expand=True,
                                                metadata=True).to_topic(alerts)
    app.run(timeout=args.exit_when_idle, collect=False) if args.exit_when_idle > 0 else app.run()
    print(f"peers-quix: {counters['applied']} events applied, {counters['rejected']} rejected, "
          f"{counters['late']} late, {counters['alerts']} alerts; process CPU "
          f"{time.process_time():.3f} s, "
          f"{cpu_at_first_event[0] if cpu_at_first_event else 0:.3f} s of it before the first event",
          file=sys.stderr)


if __name__ == "__main__":
    main()
