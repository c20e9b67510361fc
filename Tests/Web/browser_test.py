"""The web page in a real browser (headless Chromium through chromedriver), against a live
parley whose model is `parley mock-llm`: sign-in and register, a streamed answer, stop, a
reload in the middle of an answer, model output made inert, a 429, dark mode, a phone-wide
window, and the first load's size and time.

usage: browser_test.py URL SCREENSHOTS_DIR [--first-load ROUNDS]
The server lets guests send one message a minute and has an admin, admin@example.org with the
password "admin password". Prints one JSON line of figures (first-load
bytes, time to usable) and "ok"; exits non-zero with the reason on the first failure. With
--first-load, only the first load is measured, ROUNDS times in fresh browsers, one JSON line each.
"""
import json
import os
import sys
import time
import urllib.error
import urllib.request

from selenium import webdriver
from selenium.common.exceptions import NoAlertPresentException, TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

url, shots = sys.argv[1], sys.argv[2]
os.makedirs(shots, exist_ok=True)
step_number = 0


def browser(width=1280, height=800):
    options = webdriver.ChromeOptions()
    options.binary_location = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    for argument in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", f"--window-size={width},{height}",
                     "--disable-extensions", "--no-first-run"]:
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(options=options, service=Service(os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")))


def fail(why, driver=None):
    if driver is not None:
        driver.save_screenshot(os.path.join(shots, "failure.png"))
        for entry in driver.get_log("browser"):
            print("console:", entry, file=sys.stderr)
    sys.exit(f"FAIL: {why}")


def shot(driver, name):
    global step_number
    step_number += 1
    driver.save_screenshot(os.path.join(shots, f"{step_number:02d}-{name}.png"))


def wait(driver, condition, why, timeout=10):
    try:
        return WebDriverWait(driver, timeout, poll_frequency=0.05).until(lambda d: condition(d))
    except TimeoutException:
        fail(why, driver)


def by_id(driver, id):
    return driver.find_element(By.ID, id)


def ready(driver):
    wait(driver, lambda d: d.execute_script("return document.body.dataset.ready === 'true'"), "the page became usable")


def answers(driver):
    return driver.find_elements(By.CSS_SELECTOR, "#messages .message.assistant")


def send(driver, text):
    box = by_id(driver, "input")
    box.send_keys(text)
    wait(driver, lambda d: by_id(d, "send").is_enabled(), "the send button is enabled for a message")
    box.send_keys(Keys.ENTER)


def last_answer_done(driver, timeout=20):
    wait(driver, lambda d: answers(d) and "generating" not in answers(d)[-1].get_attribute("class") and not d.execute_script(
        "return !document.getElementById('stop').hidden"), "the answer ended", timeout)
    return answers(driver)[-1]


def api(path, token, body=None, method=None):
    request = urllib.request.Request(url + path, headers={"Authorization": "Bearer " + token, "Content-Type": "application/json"},
                                     data=json.dumps(body).encode() if body is not None else None, method=method)
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


def token_of(email, password):
    request = urllib.request.Request(url + "/v1/auth/login", data=json.dumps({"email": email, "password": password}).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)["access_token"]


def first_load(d):
    """Loads the page in `d` (a fresh browser) and measures it: bytes over the wire, files, and
    milliseconds from the start of navigation to the page being usable."""
    d.get(url + "/")
    ready(d)
    load = d.execute_script("""
        const entries = [...performance.getEntriesByType('navigation'), ...performance.getEntriesByType('resource')];
        const mark = performance.getEntriesByName('parley-ready')[0];
        return {bytes: entries.reduce((sum, e) => sum + (e.transferSize || 0), 0), files: entries.length,
                usable_ms: mark ? mark.startTime : null, dom_ms: performance.getEntriesByType('navigation')[0].domInteractive};
    """)
    return dict(first_load_bytes=load["bytes"], first_load_files=load["files"], usable_ms=round(load["usable_ms"], 1),
                dom_interactive_ms=round(load["dom_ms"], 1))


if len(sys.argv) > 4 and sys.argv[3] == "--first-load":
    for _ in range(int(sys.argv[4])):
        d = browser()
        print(json.dumps(first_load(d)))
        d.quit()
    sys.exit(0)

# 1. First load in a fresh browser: size and time, then register (a field error first).
d = browser()
figures = first_load(d)
load = {"bytes": figures["first_load_bytes"]}
if load["bytes"] > 200 * 1024:
    fail(f"the first load transferred {load['bytes']} bytes, over 200 KiB", d)
if by_id(d, "signin").get_attribute("hidden") is not None:
    fail("a fresh browser is asked to sign in", d)
shot(d, "sign-in")
by_id(d, "tab-register").click()
by_id(d, "email").send_keys("web@example.org")
by_id(d, "password").send_keys("short")
by_id(d, "auth-submit").click()
wait(d, lambda d: "8" in by_id(d, "password-error").text, "a too-short password is named beside its field")
if by_id(d, "password").get_attribute("aria-invalid") != "true":
    fail("the password field is not marked invalid", d)
shot(d, "field-error")
by_id(d, "password").clear()
by_id(d, "password").send_keys("correct horse battery")
by_id(d, "auth-submit").click()
ready(d)
wait(d, lambda d: by_id(d, "shell").get_attribute("hidden") is None, "registering opens the chat")
if "web@example.org" not in by_id(d, "who").text:
    fail("the account is shown", d)
token = token_of("web@example.org", "correct horse battery")

# 2. An answer appears progressively: its text grows between two reads.
send(d, "stream this please mock:tokens=40 mock:delay=60")
wait(d, lambda d: answers(d) and len(answers(d)[-1].find_element(By.CSS_SELECTOR, ".body").text) > 0, "the first tokens show")
first = len(answers(d)[-1].find_element(By.CSS_SELECTOR, ".body").text)
time.sleep(0.5)
second = len(answers(d)[-1].find_element(By.CSS_SELECTOR, ".body").text)
if second <= first:
    fail(f"the answer did not grow while it streamed ({first} then {second} characters)", d)
if "generating" not in answers(d)[-1].get_attribute("class"):
    fail("the answer is not shown as being generated", d)
shot(d, "streaming")
done = last_answer_done(d)
session = d.execute_script("return sessionStorage.getItem('parley.session')")
stored = api(f"/v1/sessions/{session}/messages?limit=1", token)["items"][0]
if done.find_element(By.CSS_SELECTOR, ".body").text.strip() != stored["content"].strip():
    fail("the streamed answer differs from the stored one", d)

# 3. Stop: the answer ends interrupted, with what was saved.
send(d, "a long one mock:tokens=400 mock:delay=40")
wait(d, lambda d: not by_id(d, "stop").get_attribute("hidden") and answers(d) and answers(d)[-1].find_element(By.CSS_SELECTOR, ".body").text,
     "the Stop button shows while it streams")
by_id(d, "stop").click()
stopped = last_answer_done(d)
if "Interrupted" not in stopped.find_element(By.CSS_SELECTOR, ".status").text:
    fail("a stopped answer says it was interrupted", d)
shot(d, "stopped")

# 4. A reload in the middle of an answer: the page comes back with the complete answer, once.
send(d, "through a reload mock:tokens=60 mock:delay=50")
wait(d, lambda d: answers(d) and len(answers(d)[-1].find_element(By.CSS_SELECTOR, ".body").text) > 20, "the answer starts before the reload")
d.refresh()
ready(d)
resumed = last_answer_done(d, timeout=30)
shot(d, "after-reload")
stored = api(f"/v1/sessions/{session}/messages?limit=1", token)["items"][0]
shown = resumed.find_element(By.CSS_SELECTOR, ".body").text.strip()
if stored["status"] != "complete" or shown != stored["content"].strip():
    fail(f"after the reload the page shows {len(shown)} characters, the server stored {len(stored['content'])} ({stored['status']})", d)

# 5. Model output cannot run script or load anything: the mock echoes the message back.
hostile = ('<img src=x onerror=alert(1)> <script>alert(2)</script> [click](javascript:alert(3)) '
           '<div onclick="alert(4)" style="color:red">raw block</div> [ok](https://example.org/) mock:echo=context mock:delay=0')
send(d, hostile)
inert = last_answer_done(d)
shot(d, "inert-output")
try:
    d.switch_to.alert
    fail("a script in the model's output ran", d)
except NoAlertPresentException:
    pass
body = inert.find_element(By.CSS_SELECTOR, ".body")
if body.find_elements(By.CSS_SELECTOR, "img, script, iframe, [onerror], [onclick], [style]"):
    fail("the answer kept an image, a script or an event handler: " + body.get_attribute("innerHTML"), d)
links = body.find_elements(By.TAG_NAME, "a")
if any((a.get_attribute("href") or "").lower().startswith("javascript:") for a in links):
    fail("a javascript: link survived", d)
safe = [a for a in links if a.get_attribute("href") == "https://example.org/"]
if not safe or safe[0].get_attribute("rel") != "noopener noreferrer" or safe[0].get_attribute("target") != "_blank":
    fail("an ordinary link does not open apart with noopener noreferrer", d)
if "raw block" not in body.text:
    fail("the harmless text of the raw HTML block was lost", d)

# 6. Fork from a message: a new session holding the path up to it.
forks = [b for b in d.find_elements(By.CSS_SELECTOR, "#messages .message.user .actions button") if b.text == "Fork from here"]
forks[0].click()
wait(d, lambda d: d.find_element(By.ID, "session-title").text.endswith("(fork)"), "a fork opens as a new session")
if len(d.find_elements(By.CSS_SELECTOR, "#messages .message")) != 1:
    fail("the fork holds the path up to the first question only", d)

# 7. API keys: created and shown once with a copy button, listed, revoked.
d.find_element(By.CSS_SELECTOR, "details.account summary").click()
by_id(d, "show-keys").click()
by_id(d, "key-name").send_keys("laptop script")
by_id(d, "key-form").find_element(By.CSS_SELECTOR, "button[type=submit]").click()
wait(d, lambda d: by_id(d, "new-key-value").text.startswith("pk_"), "the new key is shown once")
wait(d, lambda d: "laptop script" in by_id(d, "key-list").text, "the key is listed")
shot(d, "api-keys")
key = by_id(d, "new-key-value").text
by_id(d, "key-list").find_element(By.XPATH, ".//button[text()='Revoke']").click()
d.switch_to.alert.accept()
wait(d, lambda d: "revoked" in by_id(d, "key-list").text, "the key is revoked")
request = urllib.request.Request(url + "/v1/sessions", headers={"Authorization": "Bearer " + key})
try:
    urllib.request.urlopen(request, timeout=5)
    fail("a revoked key still works", d)
except urllib.error.HTTPError as error:
    if error.code != 401:
        fail(f"a revoked key got {error.code}", d)
d.find_element(By.CSS_SELECTOR, "details.account summary").click()
by_id(d, "show-chat").click()

# 8. Dark mode: chosen, remembered, and the system's choice followed otherwise.
by_id(d, "theme").click()  # light
by_id(d, "theme").click()  # dark
background = d.execute_script("return getComputedStyle(document.body).backgroundColor")
if background in ("rgb(255, 255, 255)", "rgba(0, 0, 0, 0)"):
    fail(f"dark mode did not darken the page ({background})", d)
shot(d, "dark")
d.refresh()
ready(d)
if d.execute_script("return document.documentElement.dataset.theme") != "dark":
    fail("the chosen theme was not remembered", d)
by_id(d, "theme").click()  # back to the system's
d.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": [{"name": "prefers-color-scheme", "value": "dark"}]})
if d.execute_script("return getComputedStyle(document.body).backgroundColor") == "rgb(255, 255, 255)":
    fail("the system's dark preference is not followed", d)
d.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": [{"name": "prefers-color-scheme", "value": "light"}]})

# 9. A 390-pixel-wide window: nothing wider than the screen, the sessions in a drawer.
d.set_window_size(390, 844)
time.sleep(0.3)
width = d.execute_script("return document.documentElement.scrollWidth")
if width > 390:
    fail(f"at 390 pixels the page is {width} wide", d)
if not by_id(d, "menu").is_displayed():
    fail("the sessions button shows on a phone", d)
shot(d, "phone")
by_id(d, "menu").click()
time.sleep(0.3)
shot(d, "phone-sessions")
d.quit()

# 10. An admin's users page: a user disabled and enabled again.
a = browser()
a.get(url + "/")
ready(a)
by_id(a, "email").send_keys("admin@example.org")
by_id(a, "password").send_keys("admin password")
by_id(a, "auth-submit").click()
wait(a, lambda a: by_id(a, "shell").get_attribute("hidden") is None, "the admin signs in")
a.find_element(By.CSS_SELECTOR, "details.account summary").click()
by_id(a, "show-users").click()
wait(a, lambda a: "web@example.org" in by_id(a, "user-list").text, "the users page lists the accounts")
row = [li for li in by_id(a, "user-list").find_elements(By.TAG_NAME, "li") if "web@example.org" in li.text][0]
row.find_element(By.CSS_SELECTOR, "input[type=checkbox]").click()
admin_token = token_of("admin@example.org", "admin password")
wait(a, lambda a: not [u for u in api("/v1/admin/users?limit=100", admin_token)["items"] if u["email"] == "web@example.org"][0]["active"],
     "unticking disables the account")
shot(a, "users")
row.find_element(By.CSS_SELECTOR, "input[type=checkbox]").click()
wait(a, lambda a: [u for u in api("/v1/admin/users?limit=100", admin_token)["items"] if u["email"] == "web@example.org"][0]["active"],
     "ticking enables it again")
a.quit()

# 11. A guest meets the per-minute limit: which limit, and a countdown; the send button waits.
g = browser()
g.get(url + "/")
ready(g)
by_id(g, "guest").click()
ready(g)
wait(g, lambda g: by_id(g, "shell").get_attribute("hidden") is None, "a guest gets the chat")
send(g, "one mock:tokens=2 mock:delay=0")
last_answer_done(g)
send(g, "two")
wait(g, lambda g: "Limit reached (per_minute)" in by_id(g, "notice").text, "the 429 names its limit")
if "send again in" not in by_id(g, "notice").text:
    fail("the 429 says when to send again", g)
if by_id(g, "send").is_enabled():
    fail("the send button waits out the limit", g)
shot(g, "rate-limited")
g.quit()

print(json.dumps(figures))
print("ok")
