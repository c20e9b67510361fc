"""Cross-instance tail delay: sends a message on the owner instance and, as soon as its
`start` event names the answer, follows that answer on another instance. For every byte offset
the owner's reader reached after the other reader was attached, the delay is the time the
other reader reached it minus the time the owner's did.

A third reader resumes on the other instance with Last-Event-ID after the owner's tenth token,
as a client that lost its stream would.

usage: tail_delay.py OWNER_PORT OTHER_PORT TOKEN SESSION CONTENT
prints one JSON object: owner_text, other_text, delays_ms (list), other_status, resumed_from
(a byte offset), resumed_text
"""
import http.client
import json
import sys
import threading
import time

from sse_events import events

owner_port, other_port, token, session, content = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
headers = {"Authorization": "Bearer " + token, "Accept": "text/event-stream", "Content-Type": "application/json"}

owner_times, other_times = {}, {}
owner_text, other_text = [], []
other_result = {}
attached = threading.Event()
attached_at = [None]


resumed = {"text": []}


def resume(message_id, last_event_id):
    c = http.client.HTTPConnection("127.0.0.1", other_port, timeout=60)
    c.request("GET", "/v1/sessions/%s/messages/%s/events" % (session, message_id), headers=dict(headers, **{"Last-Event-ID": last_event_id}))
    for event, ident, data, at in events(c.getresponse()):
        if event == "token":
            resumed["text"].append(json.loads(data)["delta"])
        elif event in ("done", "error"):
            return


def follow(message_id):
    c = http.client.HTTPConnection("127.0.0.1", other_port, timeout=60)
    c.request("GET", "/v1/sessions/%s/messages/%s/events" % (session, message_id), headers=headers)
    r = c.getresponse()
    attached_at[0] = time.monotonic()
    attached.set()
    for event, ident, data, at in events(r):
        if event == "token":
            other_text.append(json.loads(data)["delta"])
            other_times[int(ident)] = at
        elif event in ("done", "error"):
            other_result["event"] = event
            other_result["status"] = json.loads(data).get("message", {}).get("status")
            return


c = http.client.HTTPConnection("127.0.0.1", owner_port, timeout=60)
c.request("POST", "/v1/sessions/%s/messages" % session, json.dumps({"content": content}), headers)
r = c.getresponse()
follower, resumer, message_id = None, None, None
for event, ident, data, at in events(r):
    if event == "start":
        message_id = json.loads(data)["assistant_message_id"]
        follower = threading.Thread(target=follow, args=(message_id,))
        follower.start()
        attached.wait(10)
    elif event == "token":
        owner_text.append(json.loads(data)["delta"])
        owner_times[int(ident)] = at
        if len(owner_text) == 10:
            resumed["from"] = int(ident)
            resumer = threading.Thread(target=resume, args=(message_id, ident))
            resumer.start()
    elif event in ("done", "error"):
        break
follower.join(60)
if resumer:
    resumer.join(60)

# The time the other reader first had at least each offset the owner's reader reached.
other_offsets = sorted(other_times)
delays = []
for offset, at in sorted(owner_times.items()):
    if attached_at[0] is None or at < attached_at[0] + 0.2:
        continue  # reached before the other reader was attached and caught up
    reached = next((other_times[o] for o in other_offsets if o >= offset), None)
    if reached is not None:
        delays.append((reached - at) * 1000)
print(json.dumps({"owner_text": "".join(owner_text), "other_text": "".join(other_text), "delays_ms": delays,
                  "other_event": other_result.get("event"), "other_status": other_result.get("status"),
                  "resumed_from": resumed.get("from"), "resumed_text": "".join(resumed["text"])}))
