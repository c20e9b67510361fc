"""Server-Sent Events read off an http.client response as they arrive, for the test scripts
beside this file (each is run as `python3 <script>`, so this folder is on its import path)."""
import time


def events(response):
    """(event, id, data, monotonic time of arrival) for each event of an SSE response."""
    event, ident, data = None, None, []
    while True:
        line = response.fp.readline()
        if not line:
            return
        line = line.decode().rstrip("\r\n")
        if line == "":
            if event or data:
                yield event, ident, "\n".join(data), time.monotonic()
            event, ident, data = None, None, []
        elif line.startswith("event: "):
            event = line[7:]
        elif line.startswith("id: "):
            ident = line[4:]
        elif line.startswith("data: "):
            data.append(line[6:])
