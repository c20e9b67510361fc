"""parley's OpenAI API driven by the official `openai` package, as any script would use it:
`base_url` = parley's /openai/v1, `api_key` = a parley key or access token.

usage: openai_client_test.py URL ACCESS_TOKEN API_KEY GUEST_TOKEN
The model is `mock-model` from `parley mock-llm` (steered by mock:… words). Guests may send one
message a minute. Prints "ok"; exits non-zero with the reason on the first failure.
"""
import json
import subprocess
import sys
import time
import urllib.request

import openai

url, access_token, api_key, guest_token = sys.argv[1:5]
base = url + "/openai/v1"


def fail(why):
    sys.exit(f"FAIL: {why}")


def expect(condition, why):
    if not condition:
        fail(why)


client = openai.OpenAI(base_url=base, api_key=api_key, max_retries=0)

# Models, in OpenAI's list shape.
models = [m.id for m in client.models.list()]
expect(models == ["mock-model"], f"the models are listed: {models}")
expect(client.models.retrieve("mock-model").id == "mock-model", "a model is retrieved")

# A whole completion: the mock's words back, and usage.
whole = client.chat.completions.create(model="mock-model", messages=[
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "alpha beta gamma mock:tokens=5 mock:delay=0"},
])
expect(whole.choices[0].message.content == "alpha beta gamma mock:tokens=5 mock:delay=0 ", f"the whole answer: {whole.choices[0].message.content!r}")
expect(whole.choices[0].finish_reason == "stop", "it finished")
expect(whole.usage.completion_tokens == 5 and whole.usage.total_tokens == whole.usage.prompt_tokens + 5, f"usage: {whole.usage}")

# A streamed completion with text parts and include_usage: the chunks make the same text.
stream = client.chat.completions.create(model="mock-model", stream=True, stream_options={"include_usage": True}, messages=[
    {"role": "user", "content": [{"type": "text", "text": "one two "}, {"type": "text", "text": "three mock:tokens=6 mock:delay=40"}]},
])
pieces, usage, finish = [], None, None
for chunk in stream:
    if chunk.usage:
        usage = chunk.usage
    for choice in chunk.choices:
        if choice.delta.content:
            pieces.append(choice.delta.content)
        finish = choice.finish_reason or finish
expect("".join(pieces) == "one two three mock:tokens=6 mock:delay=40 one ", f"the streamed answer: {''.join(pieces)!r}")
# Tokens that arrive while a reader is busy reach it together, so only a few gaps are sure to show.
expect(len(pieces) >= 3, f"it came in pieces: {pieces!r}")
expect(finish == "stop", "the last chunk says why it finished")
expect(usage is not None and usage.completion_tokens == 6, f"usage with include_usage: {usage}")

# An access token works as the key too.
with_token = openai.OpenAI(base_url=base, api_key=access_token, max_retries=0)
expect(with_token.chat.completions.create(model="mock-model", messages=[{"role": "user", "content": "hi mock:tokens=1"}]).choices[0].message.content == "hi ",
       "an access token is a key")

# Errors raise the SDK's usual exceptions.
try:
    client.chat.completions.create(model="no-such-model", messages=[{"role": "user", "content": "x"}])
    fail("an unknown model was answered")
except openai.NotFoundError as error:
    expect(error.body.get("code") == "model_not_found", f"the 404 says model_not_found: {error.body}")
try:
    openai.OpenAI(base_url=base, api_key="pk_not-a-real-key", max_retries=0).chat.completions.create(
        model="mock-model", messages=[{"role": "user", "content": "x"}])
    fail("a bad key was accepted")
except openai.AuthenticationError:
    pass
try:
    client.chat.completions.create(model="mock-model", messages=[{"role": "user", "content": "x"}], tools=[{"type": "function", "function": {"name": "f"}}])
    fail("tools were silently dropped")
except openai.BadRequestError as error:
    expect(error.body.get("param") == "tools", f"the 400 names the member: {error.body}")
try:
    client.chat.completions.create(model="mock-model", messages=[{"role": "user", "content": "x"}], n=2)
    fail("n=2 was accepted")
except openai.BadRequestError as error:
    expect(error.body.get("param") == "n", f"the 400 names n: {error.body}")

# The per-minute limit: RateLimitError with the time to wait.
guest = openai.OpenAI(base_url=base, api_key=guest_token, max_retries=0)
guest.chat.completions.create(model="mock-model", messages=[{"role": "user", "content": "first mock:tokens=1"}])
try:
    guest.chat.completions.create(model="mock-model", messages=[{"role": "user", "content": "second"}])
    fail("the guest's second message in a minute was answered")
except openai.RateLimitError as error:
    retry = int(error.response.headers.get("retry-after", "0"))
    expect(0 < retry <= 60, f"the 429 says when to retry: {retry}")
    expect(error.body.get("type") == "rate_limit_error", f"the error is a rate limit one: {error.body}")

# X-Parley-Session: new makes a session that holds the exchange, visible in parley's own API.
created = client.chat.completions.with_raw_response.create(model="mock-model", messages=[{"role": "user", "content": "keep this mock:tokens=2 mock:delay=0"}],
                                                            extra_headers={"X-Parley-Session": "new"})
session = created.headers.get("x-parley-session")
expect(session, "the new session's id comes back")
request = urllib.request.Request(f"{url}/v1/sessions/{session}/messages", headers={"Authorization": "Bearer " + access_token})
with urllib.request.urlopen(request, timeout=10) as response:
    items = json.load(response)["items"]
expect([m["role"] for m in items] == ["assistant", "user"], f"the session holds the exchange: {items}")
expect(items[1]["content"] == "keep this mock:tokens=2 mock:delay=0" and items[0]["content"] == "keep this " and items[0]["status"] == "complete",
       f"as it was sent and answered: {items}")

# The raw stream with curl: data lines, then [DONE].
raw = subprocess.run(["curl", "-sN", "-H", "Authorization: Bearer " + api_key, "-H", "Content-Type: application/json",
                      "-d", json.dumps({"model": "mock-model", "stream": True, "messages": [{"role": "user", "content": "raw mock:tokens=2 mock:delay=0"}]}),
                      base + "/chat/completions"], capture_output=True, text=True, timeout=30).stdout
lines = [line for line in raw.split("\n") if line]
expect(lines[-1] == "data: [DONE]", f"the raw stream ends with [DONE]: {lines[-3:]}")
expect(all(line.startswith("data: ") for line in lines), "every line is a data line")

# A client that closes its stream mid-answer: the upstream transfer is cancelled.
stream = client.chat.completions.create(model="mock-model", stream=True, messages=[{"role": "user", "content": "cancel me mock:tokens=400 mock:delay=50"}])
for index, chunk in enumerate(stream):
    if index >= 3:
        break
stream.close()
started = time.monotonic()
print("closed-at", time.time(), flush=True)
print("ok")
