"""cedarpy side of `purser-bench cedar`: times `is_authorized_batch` on a workload file.

    python Tests/Interop/cedar/bench_cedarpy.py WORKLOAD.json [--seconds 2]

Prints `<microseconds per request> <allowed count>` on one line. Policies and entities are parsed once,
outside the timed loop, as the Swift side does.
"""

from __future__ import annotations

import argparse
import json
import time

from cedarpy import Entities, PolicySet, is_authorized_batch


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("workload")
    parser.add_argument("--seconds", type=float, default=2.0)
    options = parser.parse_args()
    with open(options.workload, encoding="utf-8") as handle:
        workload = json.load(handle)
    policies = PolicySet.from_str(workload["policies"])
    entities = Entities.from_json_str(json.dumps(workload["entities"]))
    requests = workload["requests"]
    results = is_authorized_batch(requests, policies, entities)
    allowed = sum(1 for result in results if result.allowed)
    passes = 0
    start = time.perf_counter()
    while True:
        is_authorized_batch(requests, policies, entities)
        passes += 1
        elapsed = time.perf_counter() - start
        if elapsed >= options.seconds:
            break
    print(f"{elapsed * 1e6 / (passes * len(requests)):.2f} {allowed}")


if __name__ == "__main__":
    main()
