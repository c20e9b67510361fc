"""Prepares load on a parley server: registers users, creates chat sessions, and prints one
request path per line, a tab, and the bearer token of the session's owner.

    python3 bench/sessions.py URL COUNT [--users U]                 send paths (POST …/messages)
    python3 bench/sessions.py URL COUNT --follow TURNS [--users U]  COUNT readers spread over TURNS
        answers that are started here and stay silent (GET …/messages/{id}/events)
"""
import argparse
import http.client
import json
import secrets
import urllib.request

parser = argparse.ArgumentParser()
parser.add_argument("url")
parser.add_argument("count", type=int)
parser.add_argument("--users", type=int, default=1)
parser.add_argument("--follow", type=int, default=0)
parser.add_argument("--model", default="mock-model")
args = parser.parse_args()


def call(method, path, body, token=None):
    request = urllib.request.Request(args.url + path, method=method, data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json",
                                              **({"Authorization": "Bearer " + token} if token else {})})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


def start_silent_turn(path, token):
    """Starts an answer whose first token is a minute away; returns its events path."""
    host, port = args.url.split("//")[1].split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    body = json.dumps({"content": "idle mock:tokens=2 mock:delay=60000"})
    connection.request("POST", path, body, {"Authorization": "Bearer " + token, "Accept": "text/event-stream",
                                            "Content-Type": "application/json"})
    response = connection.getresponse()
    assert response.status == 200, response.status
    buffer = b""
    while b"\n\n" not in buffer:
        buffer += response.read1(4096)
    start = json.loads(buffer.split(b"data: ", 1)[1].split(b"\n", 1)[0])
    connection.close()  # the answer goes on without its first reader
    return f"{path}/{start['assistant_message_id']}/events"


run = secrets.token_hex(4)
tokens = [call("POST", "/v1/auth/register", {"email": f"bench-{run}-{u}@example.org", "password": "bench password"})["access_token"]
          for u in range(args.users)]
sessions = args.follow or args.count
paths = []
for i in range(sessions):
    token = tokens[i % len(tokens)]
    path = f"/v1/sessions/{call('POST', '/v1/sessions', {'model': args.model}, token)['id']}/messages"
    paths.append((start_silent_turn(path, token) if args.follow else path, token))
for i in range(args.count):
    path, token = paths[i % len(paths)]
    print(f"{path}\t{token}")
