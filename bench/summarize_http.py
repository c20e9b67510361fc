"""Turns the wrk outputs listed in raw.tsv into the Markdown table of bench/RESULTS.md."""
import platform
import re
import statistics
import subprocess
import sys
from collections import defaultdict

from stats import cell


def to_ms(text):
    value, unit = float(re.match(r"([\d.]+)", text).group(1)), re.sub(r"[\d.]", "", text)
    return value * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def parse(path):
    text = open(path).read()
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
    p50 = to_ms(re.search(r"^\s+50%\s+(\S+)", text, re.M).group(1))
    p99 = to_ms(re.search(r"^\s+99%\s+(\S+)", text, re.M).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    socket_errors = re.search(r"Socket errors: (.*)", text)
    requests = int(re.search(r"(\d+) requests in", text).group(1))
    cpu = float(re.search(r"server CPU seconds: ([\d.]+)", text).group(1))
    # Server CPU microseconds per request: independent of how wrk and the server share the cores.
    cpu_us = 1e6 * cpu / max(1, requests)
    return rps, p50, p99, int(errors.group(1)) if errors else 0, socket_errors.group(1) if socket_errors else "", cpu_us


def main():
    raw, parley_rss, peer_rss, duration, rounds = sys.argv[1:6]
    runs = defaultdict(list)
    notes = []
    for line in open(raw):
        server, conns, round_no, path = line.strip().split("\t")
        result = parse(path)
        runs[(server, int(conns))].append(result)
        if result[3] or result[4]:
            notes.append(f"- {server}, {conns} connections, round {round_no}: {result[3]} non-2xx, socket errors: {result[4] or 'none'}")
    swift = subprocess.run(["swift", "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    wrk = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.splitlines()[0]
    cpus = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
    print("## GET /health, keep-alive (`make bench-http`)\n")
    print(f"Machine: {cpus} cores, {platform.machine()}, Linux {platform.release()}; {swift}; {wrk}.")
    print(f"wrk `-t2 -cN -d{duration} --latency` on loopback, sharing the cores with the server under test; "
          f"parley and the Hummingbird 2.28 peer alternate, {rounds} rounds each. Median (min–max).\n")
    print("| connections | server | requests/s | p50 latency (ms) | p99 latency (ms) | server CPU per request (µs) |")
    print("|---:|---|---:|---:|---:|---:|")
    for conns in sorted({c for _, c in runs}):
        for server in ("parley", "hummingbird"):
            r = runs.get((server, conns))
            if not r:
                continue
            print(f"| {conns} | {server} | {cell([x[0] for x in r], 0)} | {cell([x[1] for x in r], 2)} | {cell([x[2] for x in r], 2)} | {cell([x[5] for x in r], 1)} |")
    print()
    for conns in sorted({c for _, c in runs}):
        p = statistics.median(x[0] for x in runs[("parley", conns)])
        h = statistics.median(x[0] for x in runs[("hummingbird", conns)])
        pc = statistics.median(x[5] for x in runs[("parley", conns)])
        hc = statistics.median(x[5] for x in runs[("hummingbird", conns)])
        print(f"- {conns} connections: parley / Hummingbird = **{p / h:.2f}×** requests/s, **{pc / hc:.2f}×** the server CPU per request")
    print(f"- RSS after the run: parley {int(parley_rss) // 1024} MiB, Hummingbird {int(peer_rss) // 1024} MiB")
    if notes:
        print("\nErrors seen:")
        print("\n".join(notes))


main()
