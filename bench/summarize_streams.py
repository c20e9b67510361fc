"""Medians (min–max) of the streamed-chat rounds in bench/out/SCENARIO-MODE-ROUND.json, as Markdown.

    summarize_streams.py SCENARIO TOKENS DELAY_MS MACHINE_LINE [RSS_LINE]
"""
import glob
import re
import sys

from stats import Rounds

scenario, tokens, delay, machine = sys.argv[1:5]
rss = sys.argv[5] if len(sys.argv) > 5 else ""
rounds = Rounds(path for path in sorted(glob.glob(f"bench/out/{scenario}-*-*.json"))
                if re.fullmatch(rf"{re.escape(scenario)}-(direct|parley|peer)-\d+\.json", path.split("/")[-1]))
cell, median = rounds.cell, rounds.median


def table(rows):
    """One line per (label, key, digits): the medians of direct, parley and the peer."""
    print("| measure | direct | parley | peer |")
    print("| --- | --- | --- | --- |")
    for label, key, digits in rows:
        print(f"| {label} | {cell('direct', key, digits)} | {cell('parley', key, digits)} | {cell('peer', key, digits)} |")


streams = rounds.by_mode.get("parley", [{}])[0].get("streams", "?")
if scenario == "streams-loop":
    print(f"## {streams:,} chats in a closed loop (`make bench-streams`)\n")
    print(f"{machine} Each connection sends a chat (answered by `parley mock-llm` with {tokens} tokens {delay} ms apart) "
          "and, as soon as its answer ends, the next one on the same connection (parley: the same session), for the "
          f"whole run. Load client: `bench/sse_load.c --loop-seconds`. {rounds.count('parley')} rounds, alternating; "
          "median (min–max).\n")
    table([("chats answered", "responses", 0), ("tokens/s", "tokens_per_s", 0), ("chats/s", "responses_per_s", 1),
           ("time to first token p50 (ms)", "ttft_ms_p50", 1), ("time to first token p99 (ms)", "ttft_ms_p99", 1),
           ("failures", "failures", 0), ("server CPU per 1,000 tokens (ms)", "cpu_ms_per_1000_tokens", 1)])
    print()
    print(f"- parley tokens/s = **{median('parley', 'tokens_per_s') / median('peer', 'tokens_per_s'):.2f}×** the peer's "
          f"({median('parley', 'tokens_per_s') / median('direct', 'tokens_per_s'):.0%} of direct)")
    sys.exit(0)

print(f"## {streams:,} concurrent streamed chats (`make bench-streams`)\n")
print(f"{machine} Each stream: one chat answered by `parley mock-llm` with {tokens} tokens {delay} ms apart. "
      "`direct` is the load client straight on the mock (the ceiling); `parley` is the real send route (bearer auth, "
      "limits, SQLite writes, SSE); `peer` is Hummingbird 2 proxying the mock through AsyncHTTPClient. "
      f"Load client: `bench/sse_load.c` (epoll, one thread). {rounds.count('parley')} rounds, alternating; "
      "median (min–max).\n")
table([("streams with every token", "completed", 0), ("tokens received", "tokens_received", 0),
       ("tokens/s", "tokens_per_s", 0), ("time to first token p50 (ms)", "ttft_ms_p50", 1),
       ("time to first token p99 (ms)", "ttft_ms_p99", 1), ("gap between tokens p50 (ms)", "gap_ms_p50", 1),
       ("gap between tokens p99 (ms)", "gap_ms_p99", 1), ("server CPU per 1,000 tokens (ms)", "cpu_ms_per_1000_tokens", 1),
       ("load client CPU (s)", "client_cpu_s", 2)])
print()
print(f"- parley tokens/s = **{median('parley', 'tokens_per_s') / median('direct', 'tokens_per_s'):.0%}** of direct "
      f"(peer {median('peer', 'tokens_per_s') / median('direct', 'tokens_per_s'):.0%})")
print(f"- parley CPU per 1,000 tokens = **{median('parley', 'cpu_ms_per_1000_tokens') / median('peer', 'cpu_ms_per_1000_tokens'):.2f}×** the peer's")
print(f"- p99 time to first token above the upstream's: parley **{median('parley', 'ttft_ms_p99') - median('direct', 'ttft_ms_p99'):+.1f} ms**, "
      f"peer {median('peer', 'ttft_ms_p99') - median('direct', 'ttft_ms_p99'):+.1f} ms")
if rss:
    print(f"- {rss}")
