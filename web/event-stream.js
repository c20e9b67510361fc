// Server-Sent Events over fetch.
//
// A browser's EventSource cannot send an Authorization header, and parley's streams need a
// bearer token, so this reads the event stream from a fetch() response instead. It follows the
// WHATWG event-stream format (lines ending in CR, LF or CRLF, `event`/`data`/`id` fields,
// comments starting with `:`, an event ending at an empty line). No dependencies: copy it.
//
//   const response = await fetch(url, {headers: {Authorization: `Bearer ${token}`, Accept: "text/event-stream"}});
//   for await (const {event, data, id} of readEvents(response)) { ... }
//
// To resume after a dropped connection, keep the last `id` and send it back as the
// `Last-Event-ID` header on the follow route (GET /v1/sessions/{id}/messages/{mid}/events).

/** Yields `{event, data, id}` for each event of `response`'s body, as it arrives. */
export async function* readEvents(response) {
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  let event = "message", data = [], id = null;
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value;
      for (;;) {
        const end = buffer.search(/[\r\n]/);
        // A CR at the very end may be the first half of a CRLF: wait for the next piece.
        if (end < 0 || (buffer[end] === "\r" && end === buffer.length - 1)) break;
        const line = buffer.slice(0, end);
        buffer = buffer.slice(end + (buffer[end] === "\r" && buffer[end + 1] === "\n" ? 2 : 1));
        if (line === "") {
          if (data.length > 0) yield { event, data: data.join("\n"), id };
          event = "message";
          data = [];
          continue;
        }
        if (line.startsWith(":")) continue;
        const colon = line.indexOf(":");
        const field = colon < 0 ? line : line.slice(0, colon);
        let text = colon < 0 ? "" : line.slice(colon + 1);
        if (text.startsWith(" ")) text = text.slice(1);
        if (field === "event") event = text;
        else if (field === "data") data.push(text);
        else if (field === "id" && !text.includes("\0")) id = text;
      }
    }
  } finally {
    reader.releaseLock();
  }
}
