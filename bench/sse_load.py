"""Many concurrent streamed chats, measured from the client side with asyncio (one process,
no threads), so that the load generator stays far below the servers' cost.

Modes:
  direct  POST {url}/v1/chat/completions (stream) straight to `parley mock-llm`: the ceiling.
  parley  POST {url}/v1/sessions/{id}/messages with Accept: text/event-stream, one session per
          stream (created first, outside the measurement).
  peer    POST {url}/v1/chat on the Hummingbird peer (proxies the same mock upstream).

Prints one JSON object: streams, tokens expected and received, wall time, tokens/s, time to
first token (p50, p99) and the gap between tokens (p50, p99), all in milliseconds.
"""
import argparse
import asyncio
import json
import statistics
import time
import urllib.request


def percentile(values, q):
    if not values:
        return None
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


async def stream(host, port, request, tokens_of, results):
    started = time.monotonic()
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(request)
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    first, last, gaps, count = None, None, [], 0
    buffer = b""
    if status == 200:
        while True:
            size_line = await reader.readuntil(b"\r\n")
            size = int(size_line.strip().split(b";")[0], 16)
            if size == 0:
                break
            chunk = await reader.readexactly(size + 2)
            buffer += chunk[:-2]
            *events, buffer = buffer.split(b"\n\n")
            for event in events:
                n = tokens_of(event)
                if n:
                    now = time.monotonic()
                    if first is None:
                        first = now
                    elif last is not None:
                        gaps.append((now - last) / n)
                    last = now
                    count += n
    writer.close()
    results.append({"status": status, "tokens": count, "ttft": (first - started) if first else None, "gaps": gaps})


def parley_tokens(event):
    # Token events carry the delta; coalesced deltas carry several words (each ends in a space).
    if not event.startswith(b"event: token"):
        return 0
    data = event.split(b"data: ", 1)[1]
    return json.loads(data)["delta"].count(" ")


def openai_tokens(event):
    if b'"content"' not in event:
        return 0
    return json.loads(event.split(b"data: ", 1)[1])["choices"][0]["delta"]["content"].count(" ")


def call(url, method, path, body=None, token=None):
    request = urllib.request.Request(url + path, method=method, data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Content-Type": "application/json", **({"Authorization": "Bearer " + token} if token else {})})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", choices=["direct", "parley", "peer"], required=True)
    parser.add_argument("--url", required=True)
    parser.add_argument("--streams", type=int, default=1000)
    parser.add_argument("--tokens", type=int, default=50)
    parser.add_argument("--delay-ms", type=int, default=20)
    parser.add_argument("--token", help="parley: a bearer token (sessions are created with it)")
    args = parser.parse_args()
    host, port = args.url.split("//")[1].split(":")
    port = int(port)
    content = f"bench words here mock:tokens={args.tokens} mock:delay={args.delay_ms}"

    requests = []
    if args.mode == "parley":
        body = json.dumps({"content": content}).encode()
        for _ in range(args.streams):
            session = call(args.url, "POST", "/v1/sessions", {"model": "mock-model"}, args.token)["id"]
            requests.append(
                f"POST /v1/sessions/{session}/messages HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {args.token}\r\n"
                f"Accept: text/event-stream\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body)
        tokens_of = parley_tokens
    else:
        path = "/v1/chat/completions" if args.mode == "direct" else "/v1/chat"
        body = json.dumps({"model": "mock-model", "stream": True, "messages": [{"role": "user", "content": content}]}).encode()
        request = (f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nAccept: text/event-stream\r\n"
                   f"Content-Length: {len(body)}\r\n\r\n").encode() + body
        requests = [request] * args.streams
        tokens_of = openai_tokens if args.mode == "direct" else parley_tokens

    results = []
    started = time.monotonic()
    await asyncio.gather(*(stream(host, port, r, tokens_of, results) for r in requests), return_exceptions=True)
    wall = time.monotonic() - started
    received = sum(r["tokens"] for r in results)
    ttfts = [r["ttft"] * 1000 for r in results if r["ttft"] is not None]
    gaps = [g * 1000 for r in results for g in r["gaps"]]
    print(json.dumps({
        "mode": args.mode, "streams": args.streams, "completed": sum(1 for r in results if r["tokens"] == args.tokens),
        "tokens_expected": args.streams * args.tokens, "tokens_received": received, "wall_s": round(wall, 3),
        "tokens_per_s": round(received / wall, 1),
        "ttft_ms_p50": round(percentile(ttfts, 0.5) or -1, 1), "ttft_ms_p99": round(percentile(ttfts, 0.99) or -1, 1),
        "gap_ms_p50": round(percentile(gaps, 0.5) or -1, 2), "gap_ms_p99": round(percentile(gaps, 0.99) or -1, 2),
    }))


asyncio.run(main())
