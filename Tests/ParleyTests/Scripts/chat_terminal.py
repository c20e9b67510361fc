"""Drives `parley chat` through a pseudo-terminal, as a person would.

Usage: chat_terminal.py PARLEY_BIN URL CONFIG_DIR
The server at URL has a user ann@example.org / "correct horse", serves model mock-model from
`parley mock-llm` (steered by mock:… words), and allows guests one message a minute.
Exits non-zero with the reason on the first expectation that fails.
"""
import json
import os
import sys
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


def api(path, token):
    request = urllib.request.Request(url + path, headers={"Authorization": "Bearer " + token})
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.load(response)


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

# The answer appears while it is generated, not at its end (30 tokens, 100 ms apart).
child.sendline("slowly now mock:tokens=30 mock:delay=100")
expect(child, "parley: slowly ", "the first token arrives")
first = time.monotonic()
expect(child, "You: ", "the answer ends", timeout=20)
if time.monotonic() - first < 1.5:
    fail("the answer did not stream: it all came at once")

# /new and /switch change sessions.
child.sendline("/new Second topic")
expect(child, "New session: Second topic.", "/new starts a session")
expect(child, "You: ", "prompt after /new")
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

# Ctrl-C while an answer streams stops it on the server.
child.sendline("stop me please mock:tokens=400 mock:delay=50")
expect(child, "parley: stop ", "the long answer starts")
child.sendintr()
expect(child, r"\[interrupted\]", "Ctrl-C marks the answer interrupted")
expect(child, "You: ", "back at the prompt")
with open(os.path.join(config, "parley", "credentials")) as f:
    token = json.load(f)[url]["access_token"]
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

# Ctrl-C at the prompt asks to quit; /quit leaves.
child.sendintr()
expect(child, "Quit\\? Press Ctrl-C again to quit", "Ctrl-C at the prompt asks")
child.sendline("/quit")
child.expect(pexpect.EOF, timeout=10)
child.close()
if child.exitstatus != 0:
    fail(f"/quit exited with {child.exitstatus}")

# A guest meets the per-minute limit: the tier and the wait are shown.
guest_config = config + "-guest"
guest = pexpect.spawn(binary, ["chat", "--url", url], env=dict(env, XDG_CONFIG_HOME=guest_config), encoding="utf-8", timeout=10)
expect(guest, r"\(g\)\?", "the sign-in choice")
guest.sendline("g")
expect(guest, "Signed in as a guest.", "guest sign-in")
expect(guest, "You: ", "guest prompt")
guest.sendline("first mock:tokens=1")
expect(guest, "You: ", "the first message is answered")
guest.sendline("second")
expect(guest, r"limit reached \(per_minute\).*try again in \d+ s", "the 429 says which tier and how long")
expect(guest, "You: ", "back at the prompt")
guest.sendeof()
guest.expect(pexpect.EOF, timeout=10)
guest.close()
if guest.exitstatus != 0:
    fail(f"Ctrl-D exited with {guest.exitstatus}")
print("ok")
