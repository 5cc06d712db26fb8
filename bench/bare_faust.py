"""The second baseline of the live benchmark: a faust agent that only takes and acknowledges.

``python -m bench.bare_faust BOOTSTRAP COUNT OUT TOPIC...`` consumes COUNT messages from the
beginning of the topics with the same agent shape as ``ccpulse worker`` (one agent,
``noack_take`` in batches, acknowledged by hand) and writes to OUT, as JSON, how long faust
itself took to deliver them on this broker, from the first batch on (start-up and group
join excluded; faust's terminal output stays out of the way). The worker cannot be faster
than this; the gap between the two is ccpulse's own work.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import faust

from ccpulse.streams.worker import prepare_datadir, use_uvloop


def main(bootstrap: str, count: int, out: Path, topics: list[str]) -> None:
    name = f"bench-bare-faust-{time.time_ns()}"
    datadir = prepare_datadir(Path(tempfile.gettempdir()) / "ccpulse", name)
    app = faust.App(name, broker=f"kafka://{bootstrap}", store="memory://",
                    datadir=datadir, web_enabled=False,
                    consumer_auto_offset_reset="earliest", topic_allow_declare=False)
    source = app.topic(*topics, key_serializer="raw", value_serializer="raw")

    @app.agent(source, concurrency=1)
    async def consume(stream: Any) -> None:
        seen, started = 0, 0.0
        async for events in stream.noack_take(2000, within=0.1):
            started = started or time.perf_counter()
            seen += len(events)
            for event in events:
                await stream.ack(event)
            if seen >= count:
                seconds = time.perf_counter() - started
                out.write_text(json.dumps({"messages": seen, "seconds": seconds}))
                os._exit(0)  # the measurement is done; faust's orderly shutdown takes seconds

    use_uvloop()  # as the worker does
    worker = faust.Worker(app, loglevel="WARNING", quiet=True, redirect_stdouts=False)
    worker.execute_from_commandline()


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), Path(sys.argv[3]), sys.argv[4:])
