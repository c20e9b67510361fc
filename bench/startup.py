"""Start-up time and idle memory of one server binary.

    startup.py NAME PORT ROUNDS [--sign-ins N] -- COMMAND…

Each round starts COMMAND (environment: PORT/PEER_PORT = PORT, and a fresh SQLite file in a new
folder, so parley applies its migrations), asks GET /health every millisecond until it is
answered, and records the time from spawn to that answer; then RSS after one idle second, and
with --sign-ins N, RSS after N registrations (parley's password hashing). Prints JSON lines.
"""
import http.client
import json
import os
import subprocess
import sys
import tempfile
import time

separator = sys.argv.index("--")
name, port, rounds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
sign_ins = int(sys.argv[sys.argv.index("--sign-ins") + 1]) if "--sign-ins" in sys.argv[:separator] else 0
command = sys.argv[separator + 1:]


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS"))


def get(method, path, body=None):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request(method, path, body, {"Content-Type": "application/json"} if body else {})
    response = connection.getresponse()
    response.read()
    connection.close()
    return response.status


for n in range(1, rounds + 1):
    folder = tempfile.mkdtemp(prefix="parley-startup.")
    env = dict(os.environ, PORT=str(port), PEER_PORT=str(port), LOG_LEVEL="warning",
               DATABASE_URL=f"sqlite://{folder}/parley.db", AUTH_RATE_LIMIT_PER_MINUTE="0")
    started = time.monotonic()
    process = subprocess.Popen(command, env=env, cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while True:
        try:
            if get("GET", "/health") == 200:
                break
        except OSError:
            pass
        if time.monotonic() - started > 10:
            sys.exit(f"{name} did not answer within 10 s")
        time.sleep(0.001)
    startup_ms = (time.monotonic() - started) * 1000
    time.sleep(1)
    result = {"mode": name, "round": n, "startup_ms": round(startup_ms, 1), "idle_rss_kib": rss_kib(process.pid)}
    if sign_ins:
        for i in range(sign_ins):
            get("POST", "/v1/auth/register", json.dumps({"email": f"startup-{i}@example.org", "password": "bench password"}))
        time.sleep(0.5)
        result["rss_after_sign_ins_kib"] = rss_kib(process.pid)
    process.terminate()
    process.wait(10)
    subprocess.run(["rm", "-rf", folder])
    print(json.dumps(result), flush=True)
