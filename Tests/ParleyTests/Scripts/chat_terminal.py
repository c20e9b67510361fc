"""Drives `parley chat` through a pseudo-terminal, as a person would.

Usage: chat_terminal.py PARLEY_BIN URL CONFIG_DIR
The server at URL has a user ann@example.org / "correct horse", serves model mock-model from
`parley mock-llm` (steered by mock:… words), and allows guests one message a minute.
Exits non-zero with the reason on the first expectation that fails.
"""
import json
import os
import socket
import sys
import threading
import time
import urllib.request

import pexpect

binary, url, config = sys.argv[1:4]
env = dict(os.environ, XDG_CONFIG_HOME=config, TERM="dumb")


def fail(why, child=None):
    tail = child.before if child is not None else ""
    sys.exit(f"FAIL: {why}\n--- last output ---\n{tail}")


def expect(child, pattern, why, timeout=10):
    try:
        child.expect(pattern, timeout=timeout)
    except (pexpect.TIMEOUT, pexpect.EOF):
        fail(why, child)


def api(path, token, method="GET", body=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url + path, data=data, method=method,
                                     headers={"Authorization": "Bearer " + token, "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.load(response)


def log_in(child, where):
    """Answers the sign-in choice as ann with the right password, up to the prompt."""
    expect(child, r"\(g\)\?", f"the sign-in choice ({where})")
    child.sendline("l")
    expect(child, "E-mail: ", f"asks for the e-mail ({where})")
    child.sendline("ann@example.org")
    expect(child, "Password: ", f"asks for the password ({where})")
    child.sendline("correct horse")
    expect(child, "You: ", f"signed in ({where})")


def stored_token(config_dir, key=None):
    with open(os.path.join(config_dir, "parley", "credentials")) as f:
        return json.load(f)[key or url]["access_token"]


class CuttingProxy:
    """Forwards to the server; once armed, closes the connection that carries an answer's
    events after its fifth token, as a network drop would."""

    def __init__(self, target):
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.armed = False
        self.cuts = 0
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while True:
            client, _ = self.listener.accept()
            upstream = socket.create_connection(self.target)
            threading.Thread(target=self.pump, args=(client, upstream, False), daemon=True).start()
            threading.Thread(target=self.pump, args=(upstream, client, True), daemon=True).start()

    def pump(self, source, sink, answers):
        tokens = 0
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                sink.sendall(data)
                if answers and self.armed:
                    tokens += data.count(b"event: token")
                    if tokens >= 5:
                        self.armed = False
                        self.cuts += 1
                        break
        except OSError:
            pass
        for sock in (source, sink):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()


# A guest sends a first message now; it meets the per-minute limit at the end of this script.
guest_config = config + "-guest"
guest = pexpect.spawn(binary, ["chat", "--url", url], env=dict(env, XDG_CONFIG_HOME=guest_config), encoding="utf-8", timeout=10)
expect(guest, r"\(g\)\?", "the sign-in choice")
guest.sendline("g")
expect(guest, "Signed in as a guest.", "guest sign-in")
expect(guest, "You: ", "guest prompt")
guest.sendline("first mock:tokens=1")
expect(guest, "You: ", "the first message is answered")

child = pexpect.spawn(binary, ["chat", "--url", url], env=env, encoding="utf-8", timeout=10)

# A wrong password, then the right one.
expect(child, r"Log in \(l\), register \(r\) or continue as a guest \(g\)\?", "the sign-in choice is offered")
child.sendline("l")
expect(child, "E-mail: ", "asks for the e-mail")
child.sendline("ann@example.org")
expect(child, "Password: ", "asks for the password")
child.sendline("wrong password")
expect(child, "Wrong e-mail or password; try again.", "a wrong password is refused")
expect(child, "Password: ", "asks again")
child.sendline("correct horse")
expect(child, "Signed in as ann@example.org", "the right password signs in")
expect(child, "You: ", "the prompt")
mode = os.stat(os.path.join(config, "parley", "credentials")).st_mode & 0o777
if mode != 0o600:
    fail(f"the credentials file has mode {oct(mode)}, not 0600")
if api("/v1/sessions", stored_token(config))["items"]:
    fail("a session was created before the first message")

# The answer appears while it is generated, not at its end (30 tokens, 100 ms apart).
child.sendline("slowly now mock:tokens=30 mock:delay=100")
expect(child, "parley: slowly ", "the first token arrives")
first = time.monotonic()
expect(child, "You: ", "the answer ends", timeout=20)
if time.monotonic() - first < 1.5:
    fail("the answer did not stream: it all came at once")

# /new and /switch change sessions.
child.sendline("/new Second topic")
expect(child, "New session: Second topic. It starts with your next message.", "/new starts a session")
expect(child, "You: ", "prompt after /new")
child.sendline("/history")
expect(child, "No session yet: send a message to start one", "the new session holds nothing yet")
expect(child, "You: ", "prompt after /history")
if len(api("/v1/sessions", stored_token(config))["items"]) != 1:
    fail("/new made a session before its first message")
child.sendline("on the second topic mock:tokens=2 mock:delay=1")
expect(child, "You: ", "the second topic's first answer ends")
child.sendline("/sessions")
expect(child, r"\* 1\. Second topic", "the new session is current and listed first")
expect(child, r"2\. slowly now", "the first session is listed")
expect(child, "You: ", "prompt after /sessions")
child.sendline("/switch 2")
expect(child, "Now in: slowly now", "/switch changes session")
expect(child, "You: ", "prompt after /switch")
child.sendline("/history")
expect(child, "You: slowly now mock:tokens=30", "/history shows the session's messages")
expect(child, "You: ", "prompt after /history")

# /regenerate answers the last message again; /edit replaces it; the old versions stay as branches.
child.sendline("/regenerate")
expect(child, "parley: slowly ", "the regenerated answer streams")
expect(child, "You: ", "the regenerated answer ends", timeout=20)
child.sendline("/history")
expect(child, r"parley \(version 2 of 2\): slowly now", "/history shows the second version of the answer")
expect(child, "You: ", "prompt after /history")
child.sendline("/edit")
expect(child, "Give the new text: /edit TEXT.", "/edit without text says how")
expect(child, "You: ", "prompt after /edit")
child.sendline("/edit changed my mind mock:tokens=3 mock:delay=1")
expect(child, "parley: changed my mind", "the edited message is answered")
expect(child, "You: ", "the answer to the edit ends")
child.sendline("/history")
expect(child, r"You \(version 2 of 2\): changed my mind", "/history shows the edited message as the second version")
expect(child, "You: ", "prompt after /history")

# A paste of several lines is one message, even a line that looks like a command; a block
# between two \"\"\" lines is one message.
child.sendline("\x1b[200~pasted line one\npasted line two\n/quit\x1b[201~")
expect(child, "parley: ", "the paste is sent as one message")
expect(child, "You: ", "the paste's answer ends")
child.sendline('"""')
expect(child, "several lines: end with a line holding only", "a block opens")
child.sendline("block line a")
child.sendline("   block line b")
child.sendline('"""')
expect(child, "parley: ", "the block is sent as one message")
expect(child, "You: ", "the block's answer ends")
current = [s for s in api("/v1/sessions", stored_token(config))["items"] if s["title"].startswith("slowly now")][0]
questions = [m["content"] for m in api(f"/v1/sessions/{current['id']}/messages?limit=4", stored_token(config))["items"] if m["role"] == "user"]
if questions != ["block line a\n   block line b", "pasted line one\npasted line two\n/quit"]:
    fail(f"the paste and the block were not sent whole: {questions!r}")

# /search finds the pasted message; its session is the one /switch 1 then picks.
child.sendline("/search pasted two")
expect(child, r"1\. slowly now[^\r\n]* · You: pasted line one pasted line two", "/search finds the paste")
expect(child, "You: ", "prompt after /search")
child.sendline("/search zebra")
expect(child, "Nothing found.", "/search says when nothing matches")
expect(child, "You: ", "prompt after an empty /search")
child.sendline("/switch 1")
expect(child, "Now in: slowly now", "/switch picks from what /search listed")
expect(child, "You: ", "prompt after /switch")

# Ctrl-C while an answer streams stops it on the server.
child.sendline("stop me please mock:tokens=400 mock:delay=50")
expect(child, "parley: stop ", "the long answer starts")
child.sendintr()
expect(child, r"\[interrupted\]", "Ctrl-C marks the answer interrupted")
expect(child, "You: ", "back at the prompt")
token = stored_token(config)
sessions = api("/v1/sessions", token)["items"]
switched = [s for s in sessions if s["title"].startswith("slowly now")][0]
latest = api(f"/v1/sessions/{switched['id']}/messages?limit=1", token)["items"][0]
if latest["status"] != "interrupted":
    fail(f"the server recorded the stopped answer as {latest['status']}")

# An escape sequence in the model's output is not printed.
child.sendline("paint \x1b[31mred\x1b]0;pwned\x07 mock:tokens=3 mock:delay=1")
expect(child, "parley: ", "the answer starts")
expect(child, "You: ", "the answer ends")
answer = child.before
if "\x1b" in answer or "\x07" in answer:
    fail(f"control characters reached the terminal: {answer!r}")
if "red" not in answer:
    fail(f"the visible text was lost: {answer!r}")

# Too long for the server: refused before sending, with the limit.
child.sendline("x" * 5000)
expect(child, "the server accepts at most 4000", "an over-long message is refused locally")
expect(child, "You: ", "prompt after the refusal")

# /rename, then /delete (which asks first) the second topic.
child.sendline("/sessions")
expect(child, r"2\. Second topic", "the sessions again, latest activity first")
expect(child, "You: ", "prompt after /sessions")
child.sendline("/switch 2")
expect(child, "Now in: Second topic", "back to the second topic")
expect(child, "You: ", "prompt after /switch")
child.sendline("/rename Renamed topic")
expect(child, "Renamed: Renamed topic.", "/rename renames")
expect(child, "You: ", "prompt after /rename")
child.sendline("/delete")
expect(child, r"Delete Renamed topic and all its messages\? \[y/N\]", "/delete asks first")
child.sendline("n")
expect(child, "Kept.", "no keeps it")
child.sendline("/delete")
expect(child, r"\[y/N\]", "/delete asks again")
child.sendline("y")
expect(child, "Deleted. Your next message starts a new session.", "yes deletes it")
expect(child, "You: ", "prompt after /delete")
titles = [s["title"] for s in api("/v1/sessions", stored_token(config))["items"]]
if "Renamed topic" in titles or not any(t.startswith("slowly now") for t in titles):
    fail(f"/delete removed the wrong thing: {titles}")

# /logout ends the sign-in on the server and here, then offers to sign in again.
refresh = json.load(open(os.path.join(config, "parley", "credentials")))[url]["refresh_token"]
child.sendline("/logout")
expect(child, "Signed out.", "/logout signs out")
request = urllib.request.Request(url + "/v1/auth/refresh", data=json.dumps({"refresh_token": refresh}).encode(),
                                 headers={"Content-Type": "application/json"}, method="POST")
try:
    urllib.request.urlopen(request, timeout=5)
    fail("the refresh token still works after /logout")
except urllib.error.HTTPError as error:
    if error.code != 401:
        fail(f"refreshing after /logout answered {error.code}")
if url in json.load(open(os.path.join(config, "parley", "credentials"))):
    fail("/logout left the tokens stored")
log_in(child, "after /logout")

# Ctrl-C at the prompt asks to quit; /quit leaves.
child.sendintr()
expect(child, "Quit\\? Press Ctrl-C again to quit", "Ctrl-C at the prompt asks")
child.sendline("/quit")
child.expect(pexpect.EOF, timeout=10)
child.close()
if child.exitstatus != 0:
    fail(f"/quit exited with {child.exitstatus}")

# A connection that drops mid-answer is picked up again where it stopped: the answer is
# printed whole, once, and the client says what happened.
proxy = CuttingProxy(("127.0.0.1", int(url.rsplit(":", 1)[1])))
proxy_url = f"http://127.0.0.1:{proxy.port}"
dropped = pexpect.spawn(binary, ["chat", "--url", proxy_url], env=env, encoding="utf-8", timeout=10)
log_in(dropped, "through the proxy")
proxy.armed = True
dropped.sendline("resume me mock:tokens=30 mock:delay=40")
expect(dropped, "parley: ", "the answer starts")
expect(dropped, r"\(the connection dropped during this answer; it was picked up where it stopped\)", "the drop is resumed and said", timeout=20)
printed = dropped.before.replace("\r\n", "\n").strip()
expect(dropped, "You: ", "back at the prompt after the resumed answer")
if proxy.cuts != 1:
    fail(f"the proxy cut {proxy.cuts} connections, not one")
token = stored_token(config, proxy_url)
resumed = [s for s in api("/v1/sessions", token)["items"] if s["title"].startswith("resume me")][0]
answer = api(f"/v1/sessions/{resumed['id']}/messages?limit=1", token)["items"][0]
if answer["status"] != "complete" or printed != answer["content"].strip():
    fail(f"printed {printed!r}, but the server stored {answer['content']!r} ({answer['status']})")
dropped.sendline("/quit")
dropped.expect(pexpect.EOF, timeout=10)

# The guest meets the per-minute limit on a new session: the tier and a countdown are shown,
# then the message is sent again on request; the refused session does not stay behind empty.
guest.sendline("/new After the wait")
expect(guest, "It starts with your next message.", "the guest's /new")
guest.sendline("second mock:tokens=2")
expect(guest, r"limit reached \(per_minute\).*try again in \d+ s", "the 429 says which tier and how long")
expect(guest, r"Sending is possible again in (\d+) s", "a countdown")
first_shown = int(guest.match.group(1))
if len(api("/v1/sessions", stored_token(guest_config))["items"]) != 1:
    fail("the refused message left a session behind")
if first_shown > 1:
    expect(guest, rf"Sending is possible again in {first_shown - 1} s", "the countdown counts")
expect(guest, r"Send your message again\? \[Y/n\]", "the message is offered again after the wait", timeout=70)
guest.sendline("")
expect(guest, "parley: second", "the message is sent again and answered")
expect(guest, "You: ", "back at the prompt")
sessions = api("/v1/sessions", stored_token(guest_config))["items"]
if [s["title"] for s in sessions][0] != "After the wait" or len(sessions) != 2:
    fail(f"the guest's sessions after the wait: {[s['title'] for s in sessions]}")
guest.sendeof()
guest.expect(pexpect.EOF, timeout=10)
guest.close()
if guest.exitstatus != 0:
    fail(f"Ctrl-D exited with {guest.exitstatus}")
print("ok")
