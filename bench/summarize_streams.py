"""Medians (min–max) of the streamed-chat rounds in bench/out/streams-*.json, as Markdown."""
import glob
import json
import statistics
import sys

rounds = {}
for path in sorted(glob.glob("bench/out/streams-*-*.json")):
    result = json.load(open(path))
    rounds.setdefault(result["mode"], []).append(result)


def cell(mode, key, digits=1):
    values = [r[key] for r in rounds.get(mode, []) if r.get(key) is not None]
    if not values:
        return "—"
    return f"{statistics.median(values):.{digits}f} ({min(values):.{digits}f}–{max(values):.{digits}f})"


rss = open("bench/out/streams-rss.txt").read().strip() if glob.glob("bench/out/streams-rss.txt") else ""
streams = rounds.get("parley", [{}])[0].get("streams", "?")
tokens = rounds.get("parley", [{}])[0].get("tokens_expected", 0)
print(f"## {streams} concurrent streamed chats\n")
print(f"Each stream: one chat answered by `parley mock-llm` with 50 tokens 20 ms apart; {tokens} tokens per round. "
      "`direct` is the client straight on the mock (the ceiling); `parley` is the real send route (bearer auth, "
      "limits, SQLite writes, SSE); `peer` is Hummingbird 2 proxying through AsyncHTTPClient. "
      f"{len(rounds.get('parley', []))} rounds, alternating; median (min–max).\n")
print("| measure | direct | parley | peer |")
print("| --- | --- | --- | --- |")
for label, key, digits in [("streams with every token", "completed", 0), ("tokens received", "tokens_received", 0),
                           ("tokens/s", "tokens_per_s", 0), ("time to first token p50 (ms)", "ttft_ms_p50", 1),
                           ("time to first token p99 (ms)", "ttft_ms_p99", 1), ("gap between tokens p99 (ms)", "gap_ms_p99", 1),
                           ("server CPU per 1,000 tokens (ms)", "cpu_ms_per_1000_tokens", 1)]:
    print(f"| {label} | {cell('direct', key, digits)} | {cell('parley', key, digits)} | {cell('peer', key, digits)} |")
if rss:
    print(f"\n{rss}\n")
