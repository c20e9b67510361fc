"""Whether a session's size shows in its latency: one session of SMALL messages and one of LARGE
(a tree: a main path with a regenerated answer every tenth turn, imported in one request), then,
alternating between them, REQUESTS sequential reads of the active path's newest page (50
messages) and REQUESTS sends (JSON mode, `parley mock-llm` answering 5 tokens without delay, so
the time is the server's: store the question, read the context along the path, ask, store the
answer).

usage: tree.py BASE_URL SMALL LARGE REQUESTS
prints one JSON object: per session size, p50 and p99 milliseconds of list and of send
"""
import http.client
import json
import sys
import time
import urllib.parse

base, small, large, requests = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
url = urllib.parse.urlsplit(base)
conn = http.client.HTTPConnection(url.hostname, url.port, timeout=60)


def call(method, path, token=None, body=None):
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = "Bearer " + token
    conn.request(method, path, json.dumps(body) if body is not None else None, headers)
    r = conn.getresponse()
    data = r.read()
    if r.status >= 300:
        raise RuntimeError("%s %s: %d %s" % (method, path, r.status, data[:300]))
    return json.loads(data) if data else None


email = "tree-%d@bench.test" % time.time_ns()
token = call("POST", "/v1/auth/register", body={"email": email, "password": "bench password"})["access_token"]


def tree(count):
    """A linear conversation of `count` messages with a second answer beside every tenth."""
    messages, previous, n = [], None, 0
    while len(messages) < count:
        question = "q%d" % n
        messages.append({"id": question, "parent_id": previous, "role": "user", "content": "question %d" % n})
        answer = "a%d" % n
        messages.append({"id": answer, "parent_id": question, "role": "assistant", "content": "answer %d with some words" % n})
        if n % 10 == 0 and len(messages) < count:
            messages.append({"id": answer + "b", "parent_id": question, "role": "assistant", "content": "another answer %d" % n})
        previous, n = answer, n + 1
    messages = messages[:count]
    return {"format": "parley.session.v1", "session": {"title": "tree of %d" % count, "model": "mock-model", "active_leaf_id": messages[-1]["id"]
            if messages[-1]["role"] == "assistant" else None}, "messages": messages}


sessions = {}
for count in (small, large):
    document = tree(count)
    if document["session"]["active_leaf_id"] is None:
        del document["session"]["active_leaf_id"]
    started = time.monotonic()
    sessions[count] = call("POST", "/v1/sessions/import", token, document)["items"][0]["id"]
    sessions[count, "import_ms"] = (time.monotonic() - started) * 1000

timings = {(count, kind): [] for count in (small, large) for kind in ("list", "send")}
for i in range(requests):
    for count in (small, large):
        session = sessions[count]
        started = time.monotonic()
        call("GET", "/v1/sessions/%s/messages?limit=50" % session, token)
        timings[count, "list"].append((time.monotonic() - started) * 1000)
        started = time.monotonic()
        call("POST", "/v1/sessions/%s/messages" % session, token, {"content": "more %d mock:tokens=5 mock:delay=0" % i})
        timings[count, "send"].append((time.monotonic() - started) * 1000)


def pct(values, p):
    values = sorted(values)
    return round(values[min(len(values) - 1, int(len(values) * p / 100))], 2)


print(json.dumps({str(count): {"messages": count, "import_ms": round(sessions[count, "import_ms"], 1),
                               "list_p50": pct(timings[count, "list"], 50), "list_p99": pct(timings[count, "list"], 99),
                               "send_p50": pct(timings[count, "send"], 50), "send_p99": pct(timings[count, "send"], 99)}
                  for count in (small, large)}))
