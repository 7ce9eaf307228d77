"""Warm start end to end: is the first search after `make run` as fast as the later ones?

Starts `make run`'s supervisor on a fresh data folder, waits for /health to answer 200, uploads
one document and waits for it to be indexed (uploads and the listing do not search), then times
SEARCHES searches over HTTP one after another. The web server runs two gunicorn workers, each of
which loads the models before it accepts requests (config/gunicorn_hooks.py): the first searches
reach both. Measures (never asserts) the first search against the p50 of the later ones.

    .venv/bin/python -m bench.warm_start [--searches 30] [--out result.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.crash_recovery import App, _multipart, _request, _statuses, _wait

QUESTIONS = ["How many days of annual leave do new employees get?", "What is the hotel budget per night?",
             "Who approves travel expenses?", "When are expense claims due?", "Which class do flights use?"]
POLICY = (b"Travel policy. Flights under six hours are booked in economy class. The hotel budget is 150 euros per "
          b"night. Expense claims are due within thirty days and approved by the line manager. New employees get "
          b"25 days of annual leave.")


def run(searches: int) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="footnote-warm-"))
    app = App(work / "var")
    try:
        started = time.monotonic()
        _wait(lambda: app.health() == 200, 600, "a healthy app")
        ready_seconds = time.monotonic() - started
        token = app.manage("create_api_token", "admin", "--name", "warm-bench").strip().splitlines()[-1]
        body, content_type = _multipart([("travel-policy.txt", POLICY)])
        _request(f"{app.base}/api/v1/documents", token=token, body=body, content_type=content_type)
        _wait(lambda: set(_statuses(app, token).values()) == {"indexed"}, 300, "the document indexed")
        times: list[float] = []
        for number in range(searches):
            payload = json.dumps({"query": QUESTIONS[number % len(QUESTIONS)], "collection": "default"}).encode()
            began = time.perf_counter()
            code, _ = _request(f"{app.base}/api/v1/search", token=token, body=payload, content_type="application/json")
            times.append(round((time.perf_counter() - began) * 1000, 1))
            if code != 200:
                raise SystemExit(f"search answered {code}")
        later = round(statistics.median(times[2:]), 1)
        return {"ready_seconds": round(ready_seconds, 1), "first_ms": times[0], "second_ms": times[1],
                "later_p50_ms": later, "first_over_later_p50": round(times[0] / later, 2), "all_ms": times}
    finally:
        app.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--searches", type=int, default=30)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    result = run(args.searches)
    print(json.dumps(result, indent=2))
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
