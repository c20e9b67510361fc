"""Chats that must survive instances going away: each of N clients signs in as a guest through
the proxy, then sends ROUNDS messages one after the other, streamed. A send that fails before
its answer starts is sent again with the same Idempotency-Key; a stream that ends without
`done` (a dropped connection, `error` server_shutdown) is resumed through the proxy with
Last-Event-ID. At the end every session is read back and compared with what its client got.

usage: rolling_chats.py PROXY_PORT CLIENTS ROUNDS CONTENT
prints one JSON object: chats, resumes, resends, statuses (count per stored status), errors
(count per `error` event code), problems (list of what did not hold), seconds
"""
import http.client
import json
import sys
import threading
import time
import uuid

from sse_events import events

port, clients, rounds, content = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
deadline = time.monotonic() + 150
lock = threading.Lock()
totals = {"resumes": 0, "resends": 0, "statuses": {}, "errors": {}, "problems": [], "chats": 0}


def problem(text):
    with lock:
        totals["problems"].append(text)



def call(method, path, token=None, body=None):
    """JSON call, tried again while instances restart (connection errors, 502, 503)."""
    while time.monotonic() < deadline:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            headers = {"Content-Type": "application/json"}
            if token:
                headers["Authorization"] = "Bearer " + token
            c.request(method, path, json.dumps(body) if body is not None else None, headers)
            r = c.getresponse()
            payload = r.read()
            if r.status in (502, 503, 504):
                time.sleep(0.3)
                continue
            return r.status, json.loads(payload) if payload else None
        except (OSError, http.client.HTTPException):
            time.sleep(0.3)
    raise RuntimeError("%s %s: no answer before the deadline" % (method, path))


def chat(token, session, text_to_send):
    """One streamed send, resumed until `done`; (message id, text received, done's message)."""
    key = str(uuid.uuid4())
    message_id, last_id, received = None, None, []
    while time.monotonic() < deadline:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            headers = {"Authorization": "Bearer " + token, "Accept": "text/event-stream", "Content-Type": "application/json"}
            if message_id is None:
                headers["Idempotency-Key"] = key
                c.request("POST", "/v1/sessions/%s/messages" % session, json.dumps({"content": text_to_send}), headers)
            else:
                if last_id is not None:
                    headers["Last-Event-ID"] = last_id
                c.request("GET", "/v1/sessions/%s/messages/%s/events" % (session, message_id), headers=headers)
            r = c.getresponse()
            if r.status != 200:
                r.read()
                if r.status not in (502, 503, 504):
                    problem("%s: status %d" % (session, r.status))
                    return None
                time.sleep(float(r.getheader("Retry-After") or "0.3"))
                continue
            for event, ident, data, _ in events(r):
                if event == "start":
                    message_id = json.loads(data)["assistant_message_id"]
                elif event == "token":
                    received.append(json.loads(data)["delta"])
                    last_id = ident
                elif event == "done":
                    return message_id, "".join(received), json.loads(data)["message"]
                elif event == "error":
                    code = json.loads(data).get("code")
                    with lock:
                        totals["errors"][code] = totals["errors"].get(code, 0) + 1
                    break
        except (OSError, http.client.HTTPException):
            pass
        with lock:
            totals["resumes" if message_id else "resends"] += 1
        time.sleep(0.2)
    problem("%s: no done before the deadline" % session)
    return None


def client(index):
    try:
        run_client(index)
    except Exception as error:  # a client that gives up says why, never silently
        problem("client %d: %r" % (index, error))


def run_client(index):
    status, guest = call("POST", "/v1/auth/guest")
    if status != 201:
        problem("client %d: guest sign-in answered %d %r" % (index, status, guest))
        return
    token = guest["access_token"]
    status, session = call("POST", "/v1/sessions", token, {})
    session = session["id"]
    sent = []
    for round_ in range(rounds):
        text_to_send = "%s (client %d round %d)" % (content, index, round_)
        result = chat(token, session, text_to_send)
        if result is None:
            return
        message_id, received, done = result
        sent.append((text_to_send, message_id, received))
        with lock:
            totals["chats"] += 1
    status, page = call("GET", "/v1/sessions/%s/messages?limit=100" % session, token)
    stored = list(reversed(page["items"]))
    users = [m["content"] for m in stored if m["role"] == "user"]
    if users != [s[0] for s in sent]:
        problem("%s: user messages %r, sent %r" % (session, users, [s[0] for s in sent]))
    answers = {m["id"]: m for m in stored if m["role"] == "assistant"}
    for text_to_send, message_id, received in sent:
        answer = answers.get(message_id)
        if answer is None:
            problem("%s: answer %s not stored" % (session, message_id))
            continue
        with lock:
            totals["statuses"][answer["status"]] = totals["statuses"].get(answer["status"], 0) + 1
        if answer["status"] == "streaming":
            problem("%s: answer %s left streaming" % (session, message_id))
        if answer["content"] != received:
            problem("%s: received %d bytes, stored %d, differing" % (session, len(received.encode()), len(answer["content"].encode())))


started = time.monotonic()
threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
for t in threads:
    t.start()
    time.sleep(0.005)
for t in threads:
    t.join()
totals["seconds"] = round(time.monotonic() - started, 1)
print(json.dumps(totals))
