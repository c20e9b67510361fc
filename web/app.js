// parley's web page: sign-in, sessions, a streamed chat, API keys and, for admins, users.
// Plain modules, no build step; everything goes through the public API (see api.js).
import { Api, ApiError } from "./api.js";
import { readEvents } from "./event-stream.js";
import { renderMarkdown, highlightCode, setCodeTheme } from "./render.js";

const $ = (id) => document.getElementById(id);
const api = new Api();
const utf8 = new TextEncoder();

const state = {
  sessions: [],
  sessionsCursor: undefined, // undefined: not loaded; null: no more
  session: null,
  projects: [],
  models: [],
  maxLength: 4000,
  streaming: null,          // {sessionId, answerId, controller}
  waitUntil: 0,             // no send before this time (a 429's Retry-After)
  earlierCursor: null,
};

// MARK: - Theme: follows the system unless chosen; the choice is remembered.

const themes = ["system", "light", "dark"];
function applyTheme(choice) {
  const root = document.documentElement;
  if (choice === "system") root.removeAttribute("data-theme");
  else root.setAttribute("data-theme", choice);
  const dark = choice === "dark" || (choice === "system" && matchMedia("(prefers-color-scheme: dark)").matches);
  setCodeTheme(dark);
  $("theme").setAttribute("aria-label", `Theme: ${choice === "system" ? "follows the system" : choice}`);
  $("theme").title = $("theme").getAttribute("aria-label");
}
let theme = localStorage.getItem("parley.theme") || "system";
applyTheme(theme);
matchMedia("(prefers-color-scheme: dark)").addEventListener("change", () => applyTheme(theme));
$("theme").addEventListener("click", () => {
  theme = themes[(themes.indexOf(theme) + 1) % themes.length];
  localStorage.setItem("parley.theme", theme);
  applyTheme(theme);
});

// MARK: - Signing in

let registering = false;
function setAuthMode(register) {
  registering = register;
  $("tab-login").setAttribute("aria-selected", String(!register));
  $("tab-register").setAttribute("aria-selected", String(register));
  $("auth-submit").textContent = register ? "Register" : "Sign in";
  $("password").autocomplete = register ? "new-password" : "current-password";
  clearAuthErrors();
}
$("tab-login").addEventListener("click", () => setAuthMode(false));
$("tab-register").addEventListener("click", () => setAuthMode(true));

function clearAuthErrors() {
  for (const id of ["email-error", "password-error", "auth-error"]) $(id).textContent = "";
  $("email").removeAttribute("aria-invalid");
  $("password").removeAttribute("aria-invalid");
}

function showAuthError(error) {
  clearAuthErrors();
  let placed = false;
  for (const { field, message } of error.fields || []) {
    if (field === "email" || field === "password") {
      $(`${field}-error`).textContent = `${field === "email" ? "E-mail" : "Password"} ${message}.`;
      $(field).setAttribute("aria-invalid", "true");
      placed = true;
    }
  }
  if (!placed) $("auth-error").textContent = error.message;
}

$("auth-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  clearAuthErrors();
  try {
    await api.signIn(registering ? "register" : "login", { email: $("email").value.trim(), password: $("password").value });
    $("password").value = "";
    await enter();
  } catch (error) {
    showAuthError(error);
  }
});
$("guest").addEventListener("click", async () => {
  try {
    await api.signIn("guest");
    await enter();
  } catch (error) {
    showAuthError(error);
  }
});
$("sign-out").addEventListener("click", async () => {
  try { await api.signOut(); } catch { /* signed out here in any case */ }
  leave();
});
api.onSignedOut = () => leave("Your sign-in has ended; sign in again.");

function leave(message) {
  state.streaming?.controller.abort();
  $("shell").hidden = true;
  $("signin").hidden = false;
  $("auth-error").textContent = message || "";
  $("email").focus();
}

// MARK: - Entering: sessions, models, projects, limits

async function enter() {
  $("signin").hidden = true;
  $("loading").hidden = true;
  $("shell").hidden = false;
  const user = api.user;
  $("who").textContent = user.email || "Guest";
  $("show-users").hidden = user.role !== "admin";
  showPage("chat");
  state.sessions = [];
  state.sessionsCursor = undefined;
  $("sessions").replaceChildren();
  const [models, projects] = await Promise.all([api.request("GET", "/v1/models"), api.request("GET", "/v1/projects?limit=100").catch(() => ({ items: [] }))]);
  state.models = models.data ? models.data.map((m) => m.id) : models.items.map((m) => m.id);
  state.projects = projects.items;
  $("project-filter").replaceChildren(new Option("All sessions", ""), ...state.projects.map((p) => new Option(p.name, p.id)));
  await refreshUsage();
  await loadSessions();
  const remembered = sessionStorage.getItem("parley.session");
  const first = state.sessions.find((s) => s.id === remembered) || state.sessions[0];
  if (first) await openSession(first);
  else await newSession();
  ready();
  $("input").focus();
}

/** Marks the page usable: for people (focus) and for the browser tests (a mark, an attribute). */
function ready() {
  if (document.body.dataset.ready !== "true") performance.mark("parley-ready");
  document.body.dataset.ready = "true";
}

async function refreshUsage() {
  try {
    const usage = await api.request("GET", "/v1/usage");
    state.maxLength = usage.max_message_length;
    showQuota(usage.tiers);
  } catch { /* the indicator waits for the next answer's headers */ }
  updateCounter();
}

function showQuota(tiers) {
  const parts = tiers.filter((t) => t.tier !== "concurrent_streams").map((t) => `${t.remaining}/${t.limit} ${t.tier.replace("_", " ")}`);
  $("quota").textContent = parts.length ? parts.join(" · ") : "no limits";
}
// A send's headers say where its closest message limit stands (other routes' are other limits).
api.onLimits = ({ limit, remaining, path }) => {
  if (/\/messages(\/[^/]+\/regenerate)?$/.test(path)) $("quota").textContent = `${remaining}/${limit} messages left`;
};

// MARK: - Sessions

async function loadSessions() {
  if (state.sessionsCursor === null) return;
  const cursor = state.sessionsCursor ? `&cursor=${encodeURIComponent(state.sessionsCursor)}` : "";
  const project = $("project-filter").value ? `&project_id=${encodeURIComponent($("project-filter").value)}` : "";
  const page = await api.request("GET", `/v1/sessions?limit=30${project}${cursor}`);
  state.sessions.push(...page.items);
  state.sessionsCursor = page.next_cursor;
  renderSessions();
}

const sessionsEnd = new IntersectionObserver((entries) => {
  if (entries.some((e) => e.isIntersecting) && state.sessionsCursor) loadSessions().catch(report);
});
sessionsEnd.observe($("sessions-end"));

function renderSessions() {
  const filter = $("project-filter").value;
  const items = state.sessions.filter((s) => !filter || s.project_id === filter).map((session) => {
    const li = document.createElement("li");
    li.className = session.id === state.session?.id ? "current" : "";
    const open = document.createElement("button");
    open.type = "button";
    open.className = "session";
    open.textContent = session.title;
    if (session.id === state.session?.id) open.setAttribute("aria-current", "true");
    open.addEventListener("click", () => { openSession(session).catch(report); closeDrawer(); });
    const rename = iconButton("✎", `Rename ${session.title}`, () => renameSession(session));
    const remove = iconButton("✕", `Delete ${session.title}`, () => deleteSession(session));
    li.append(open, rename, remove);
    return li;
  });
  $("sessions").replaceChildren(...items);
}
// The server lists one project's sessions; the list starts again from its first page.
$("project-filter").addEventListener("change", () => {
  state.sessions = [];
  state.sessionsCursor = undefined;
  loadSessions().catch(report);
});

function iconButton(text, label, action) {
  const button = document.createElement("button");
  button.type = "button";
  button.className = "icon";
  button.textContent = text;
  button.setAttribute("aria-label", label);
  button.title = label;
  button.addEventListener("click", () => Promise.resolve(action()).catch(report));
  return button;
}

async function newSession() {
  const project = $("project-filter").value || undefined;
  const session = await api.request("POST", "/v1/sessions", { json: project ? { project_id: project } : {} });
  state.sessions.unshift(session);
  await openSession(session);
}
$("new-session").addEventListener("click", () => { newSession().catch(report); closeDrawer(); });

async function renameSession(session) {
  const title = prompt("New title", session.title);
  if (title === null || !title.trim()) return;
  Object.assign(session, await api.request("PATCH", `/v1/sessions/${session.id}`, { json: { title: title.trim() } }));
  renderSessions();
  if (state.session?.id === session.id) $("session-title").textContent = session.title;
}

async function deleteSession(session) {
  if (!confirm(`Delete “${session.title}” and all its messages?`)) return;
  await api.request("DELETE", `/v1/sessions/${session.id}`);
  state.sessions = state.sessions.filter((s) => s.id !== session.id);
  if (state.session?.id === session.id) {
    if (state.sessions[0]) await openSession(state.sessions[0]);
    else await newSession();
  }
  renderSessions();
}

// MARK: - A session's messages

async function openSession(session) {
  state.streaming?.controller.abort();
  state.session = session;
  sessionStorage.setItem("parley.session", session.id);
  $("session-title").textContent = session.title;
  $("model").replaceChildren(...state.models.map((m) => new Option(m, m, false, m === session.model)));
  renderSessions();
  $("messages").replaceChildren();
  const page = await api.request("GET", `/v1/sessions/${session.id}/messages?limit=50`);
  state.earlierCursor = page.next_cursor;
  $("earlier").hidden = !page.next_cursor;
  const messages = page.items.reverse();
  for (const message of messages) $("messages").append(messageElement(message));
  scrollToEnd();
  // An answer still being generated (a reload in the middle of it): show what was saved and
  // follow the rest from there, byte for byte.
  const last = messages[messages.length - 1];
  if (last && last.role === "assistant" && last.status === "streaming") {
    const element = $("messages").lastElementChild;
    follow(session.id, last.id, element, last.content, utf8.encode(last.content).length).catch(report);
  }
}

$("earlier").addEventListener("click", async () => {
  const page = await api.request("GET", `/v1/sessions/${state.session.id}/messages?limit=50&cursor=${encodeURIComponent(state.earlierCursor)}`);
  state.earlierCursor = page.next_cursor;
  $("earlier").hidden = !page.next_cursor;
  $("messages").prepend(...page.items.reverse().map(messageElement));
});

$("model").addEventListener("change", async () => {
  const session = state.session;
  Object.assign(session, await api.request("PATCH", `/v1/sessions/${session.id}`, { json: { model: $("model").value } }));
});

function messageElement(message) {
  const li = document.createElement("li");
  li.className = `message ${message.role}`;
  li.dataset.id = message.id;
  const who = document.createElement("div");
  who.className = "who";
  who.textContent = message.role === "user" ? "You" : "parley";
  const body = document.createElement("div");
  body.className = "body";
  const status = document.createElement("p");
  status.className = "status";
  const actions = document.createElement("div");
  actions.className = "actions";
  li.append(who, body, status, actions);
  fill(li, message);
  return li;
}

/** Puts `message` (as stored or as streamed so far) into its element. */
function fill(li, message, streaming = false) {
  li.dataset.id = message.id;
  li._message = message;
  const body = li.querySelector(".body");
  if (message.role === "assistant") {
    body.replaceChildren(renderMarkdown(message.content));
    if (!streaming) highlightCode(body);
  } else {
    body.textContent = message.content;
  }
  const status = li.querySelector(".status");
  status.textContent = streaming ? "Generating…" : statusText(message);
  li.classList.toggle("generating", streaming);
  const actions = li.querySelector(".actions");
  actions.replaceChildren();
  if (streaming) return;
  if (message.siblings > 1) {
    const nav = document.createElement("span");
    nav.className = "versions";
    nav.append(iconButton("‹", "Previous version", () => switchVersion(message, -1)),
               `${message.sibling_index + 1}/${message.siblings}`,
               iconButton("›", "Next version", () => switchVersion(message, 1)));
    actions.append(nav);
  }
  if (message.role === "assistant") actions.append(textButton("Regenerate", () => regenerate(message)));
  if (message.role === "user") actions.append(textButton("Edit", () => edit(li, message)));
  actions.append(textButton("Fork from here", () => fork(message)));
}

function statusText(message) {
  switch (message.status) {
    case "complete": return "";
    case "interrupted": return `Interrupted: ${[...message.content].length} characters were saved.`;
    case "failed": return `The model's upstream failed: ${[...message.content].length} characters were saved.`;
    case "streaming": return "Generating…";
    default: return message.status;
  }
}

function textButton(text, action) {
  const button = document.createElement("button");
  button.type = "button";
  button.className = "link";
  button.textContent = text;
  button.addEventListener("click", () => Promise.resolve(action()).catch(report));
  return button;
}

function scrollToEnd() {
  const list = $("messages");
  list.scrollTop = list.scrollHeight;
}

// MARK: - Sending, streaming, resuming

$("input").addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    $("composer").requestSubmit();
  }
});
$("input").addEventListener("input", updateCounter);

function updateCounter() {
  const length = [...$("input").value].length;
  $("counter").textContent = `${length} / ${state.maxLength}`;
  $("counter").classList.toggle("over", length > state.maxLength);
  updateSend();
}

function updateSend() {
  const length = [...$("input").value].length;
  const waiting = Date.now() < state.waitUntil;
  $("send").disabled = Boolean(state.streaming) || waiting || length === 0 || length > state.maxLength || !$("input").value.trim();
}

$("composer").addEventListener("submit", (event) => {
  event.preventDefault();
  const content = $("input").value;
  if (!content.trim() || $("send").disabled) return;
  send({ content }).then((sent) => { if (sent) { $("input").value = ""; updateCounter(); } }).catch(report);
});

/** Sends a message (or regenerates, with `regenerateOf`); true once the server took it. */
async function send({ content, parentId, regenerateOf }) {
  const session = state.session;
  const controller = new AbortController();
  state.streaming = { sessionId: session.id, answerId: null, controller };
  updateSend();
  $("notice").textContent = "";
  let response;
  try {
    const path = regenerateOf ? `/v1/sessions/${session.id}/messages/${regenerateOf}/regenerate` : `/v1/sessions/${session.id}/messages`;
    const json = regenerateOf ? {} : parentId === undefined ? { content } : { content, parent_id: parentId };
    response = await api.request("POST", path, { json, raw: true, signal: controller.signal,
                                                 headers: { Accept: "text/event-stream", "Idempotency-Key": crypto.randomUUID() } });
  } catch (error) {
    state.streaming = null;
    updateSend();
    refused(error);
    return false;
  }
  let answer = null;
  try {
    const events = readEvents(response);
    const first = await events.next();
    if (first.done || first.value.event !== "start") throw new Error("the answer did not start");
    const start = JSON.parse(first.value.data);
    state.streaming.answerId = start.assistant_message_id;
    if (regenerateOf || parentId !== undefined) {
      // Another branch: show the path it is on (the question included), then its answer.
      await showActivePath(session, start.assistant_message_id);
    } else {
      $("messages").append(messageElement(start.user_message));
    }
    answer = messageElement({ id: start.assistant_message_id, role: "assistant", content: "", status: "streaming", parent_id: start.user_message.id });
    $("messages").append(answer);
    scrollToEnd();
    await stream(events, session.id, start.assistant_message_id, answer, "", 0);
  } catch (error) {
    if (controller.signal.aborted) return true;
    if (answer) return true;
    throw error;
  } finally {
    touchSession(session);
  }
  return true;
}

/** Shows the session's active path again, but for `answerId` (about to stream). */
async function showActivePath(session, answerId) {
  const page = await api.request("GET", `/v1/sessions/${session.id}/messages?limit=50`);
  state.earlierCursor = page.next_cursor;
  $("earlier").hidden = !page.next_cursor;
  $("messages").replaceChildren(...page.items.reverse().filter((m) => m.id !== answerId).map(messageElement));
}

/** Follows an answer from `offset`, with `text` already shown (a resume after a reload). */
async function follow(sessionId, answerId, element, text, offset) {
  const controller = new AbortController();
  state.streaming = { sessionId, answerId, controller };
  updateSend();
  fill(element, { ...element._message, content: text }, true);
  try {
    const response = await api.request("GET", `/v1/sessions/${sessionId}/messages/${answerId}/events?after=${offset}`,
                                       { raw: true, signal: controller.signal, headers: { Accept: "text/event-stream" } });
    await stream(readEvents(response), sessionId, answerId, element, text, offset);
  } catch (error) {
    if (!controller.signal.aborted) throw error;
  }
}

/**
 * Reads an answer's events into `element`; a connection that drops is resumed from the last
 * byte received (`Last-Event-ID`), a few times, so the text ends complete and never doubled.
 */
async function stream(events, sessionId, answerId, element, text, offset) {
  let lastRender = 0, pending = false;
  const render = (force) => {
    const now = performance.now();
    if (!force && now - lastRender < 50) {
      if (!pending) { pending = true; setTimeout(() => { pending = false; render(true); }, 50); }
      return;
    }
    lastRender = now;
    if (state.streaming?.answerId === answerId) fill(element, { ...element._message, content: text }, true);
    scrollToEnd();
  };
  $("stop").hidden = false;
  $("announcer").textContent = "parley is answering.";
  for (let attempt = 0; attempt <= 5; attempt++) {
    try {
      for await (const { event, data, id } of events) {
        if (event === "token") {
          text += JSON.parse(data).delta;
          if (id !== null) offset = Number(id);
          render(false);
        } else if (event === "done") {
          const done = JSON.parse(data);
          return finish(element, done.message, sessionId);
        } else if (event === "error") {
          const failure = JSON.parse(data);
          element._message = { ...element._message, content: text };
          if (failure.code === "server_shutdown") break;  // resumed below, elsewhere
          return finish(element, { ...element._message, status: "failed" }, sessionId, failure.message);
        }
      }
    } catch (error) {
      if (state.streaming?.controller.signal.aborted) return;
    }
    // The stream ended without `done`: resume from the last byte received.
    if (state.streaming?.answerId !== answerId) return;
    await new Promise((resolve) => setTimeout(resolve, 250 * (attempt + 1)));
    try {
      const response = await api.request("GET", `/v1/sessions/${sessionId}/messages/${answerId}/events`, {
        raw: true, signal: state.streaming.controller.signal,
        headers: { Accept: "text/event-stream", "Last-Event-ID": String(offset) },
      });
      events = readEvents(response);
    } catch (error) {
      if (state.streaming?.controller.signal.aborted) return;
    }
  }
  finish(element, { ...element._message, content: text, status: "interrupted" }, sessionId, "The connection was lost.");
}

function finish(element, message, sessionId, problem) {
  if (state.streaming?.sessionId === sessionId) state.streaming = null;
  $("stop").hidden = true;
  fill(element, { ...element._message, ...message });
  if (problem) element.querySelector(".status").textContent = `${statusText(message)} ${problem}`.trim();
  $("announcer").textContent = `parley answered: ${message.content}`;
  updateSend();
  scrollToEnd();
  refreshUsage();
}

function touchSession(session) {
  state.sessions = [session, ...state.sessions.filter((s) => s.id !== session.id)];
  api.request("GET", `/v1/sessions/${session.id}`).then((fresh) => {
    Object.assign(session, fresh);
    $("session-title").textContent = session.title;
    renderSessions();
  }).catch(() => {});
}

$("stop").addEventListener("click", async () => {
  const streaming = state.streaming;
  if (!streaming) return;
  $("stop").disabled = true;
  try {
    await api.request("POST", `/v1/sessions/${streaming.sessionId}/stop`);
  } catch (error) {
    if (error.status !== 409) report(error);
  } finally {
    $("stop").disabled = false;
  }
});

/** A refused send: a limit says which and when to try again, and the send button waits. */
function refused(error) {
  if (error instanceof ApiError && error.status === 429 && error.retryAfter) {
    state.waitUntil = Date.now() + error.retryAfter * 1000;
    const tick = () => {
      const left = Math.ceil((state.waitUntil - Date.now()) / 1000);
      if (left <= 0) {
        $("notice").textContent = "";
        updateSend();
        return;
      }
      $("notice").textContent = `Limit reached (${error.tier || "rate limit"}): you can send again in ${left} s.`;
      setTimeout(tick, 1000);
    };
    tick();
    updateSend();
    return;
  }
  report(error);
}

// MARK: - Branches: regenerate, edit, versions, fork

async function regenerate(message) {
  if (state.streaming) return;
  await send({ regenerateOf: message.id });
}

function edit(li, message) {
  if (state.streaming) return;
  const body = li.querySelector(".body");
  const area = document.createElement("textarea");
  area.value = message.content;
  area.setAttribute("aria-label", "Edited message");
  const save = textButton("Send", async () => {
    const content = area.value;
    if (!content.trim()) return;
    await send({ content, parentId: message.parent_id ?? null });
  });
  const cancel = textButton("Cancel", () => fill(li, message));
  body.replaceChildren(area, save, cancel);
  area.focus();
}

/** Shows another version of `message` (one of its siblings), and the path below it. */
async function switchVersion(message, step) {
  const session = state.session;
  const siblings = [];
  let cursor = "";
  for (;;) {
    const page = await api.request("GET", `/v1/sessions/${session.id}/tree?limit=1000${cursor}`);
    siblings.push(...page.items.filter((m) => m.parent_id === message.parent_id));
    if (!page.next_cursor) break;
    cursor = `&cursor=${encodeURIComponent(page.next_cursor)}`;
  }
  const index = siblings.findIndex((m) => m.id === message.id);
  const target = siblings[(index + step + siblings.length) % siblings.length];
  await api.request("PATCH", `/v1/sessions/${session.id}`, { json: { active_leaf_id: target.id } });
  await openSession(session);
}

async function fork(message) {
  const forked = await api.request("POST", `/v1/sessions/${state.session.id}/fork`, { json: { message_id: message.id } });
  state.sessions.unshift(forked);
  await openSession(forked);
}

// MARK: - Export

async function download(format) {
  const response = await api.request("GET", `/v1/sessions/${state.session.id}/export?format=${format}`, { raw: true });
  const blob = await response.blob();
  const link = document.createElement("a");
  link.href = URL.createObjectURL(blob);
  link.download = `${state.session.title.replace(/[^\w .-]+/g, "_")}.${format === "json" ? "json" : "md"}`;
  link.click();
  setTimeout(() => URL.revokeObjectURL(link.href), 1000);
}
$("export-markdown").addEventListener("click", () => download("markdown").catch(report));
$("export-json").addEventListener("click", () => download("json").catch(report));

// MARK: - Pages: chat, API keys, users

function showPage(name) {
  for (const page of ["chat", "keys", "users"]) $(page).hidden = page !== name;
  $("sidebar").hidden = name !== "chat" && matchMedia("(max-width: 720px)").matches;
  document.querySelector("details.account").open = false;
}
$("show-chat").addEventListener("click", () => showPage("chat"));
$("show-keys").addEventListener("click", () => { showPage("keys"); loadKeys().catch(report); });
$("show-users").addEventListener("click", () => { showPage("users"); loadUsers(true).catch(report); });

async function loadKeys() {
  const keys = (await api.request("GET", "/v1/api-keys")).items;
  $("key-list").replaceChildren(...keys.map((key) => {
    const li = document.createElement("li");
    const state = key.revoked_at ? "revoked" : key.expires_at ? `expires ${key.expires_at.slice(0, 10)}` : "no expiry";
    li.append(`${key.name} (${key.prefix}…, ${state})`);
    if (!key.revoked_at) {
      li.append(textButton("Revoke", async () => {
        if (!confirm(`Revoke the key “${key.name}”? Scripts using it stop working.`)) return;
        await api.request("DELETE", `/v1/api-keys/${key.id}`);
        await loadKeys();
      }));
    }
    return li;
  }));
}
$("key-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  $("key-error").textContent = "";
  const days = $("key-days").value ? Number($("key-days").value) : undefined;
  try {
    const created = await api.request("POST", "/v1/api-keys", { json: { name: $("key-name").value, ...(days ? { expires_in_days: days } : {}) } });
    $("new-key-value").textContent = created.key;
    $("new-key").hidden = false;
    $("key-name").value = "";
    await loadKeys();
  } catch (error) {
    $("key-error").textContent = error.message;
  }
});
$("copy-key").addEventListener("click", async () => {
  try {
    await navigator.clipboard.writeText($("new-key-value").textContent);
    $("copy-key").textContent = "Copied";
  } catch {
    $("copy-key").textContent = "Select and copy it";
  }
});

let usersCursor = null;
async function loadUsers(fresh) {
  if (fresh) { usersCursor = null; $("user-list").replaceChildren(); }
  const page = await api.request("GET", `/v1/admin/users?limit=50${usersCursor ? `&cursor=${encodeURIComponent(usersCursor)}` : ""}`);
  usersCursor = page.next_cursor;
  $("more-users").hidden = !usersCursor;
  $("user-list").append(...page.items.map((user) => {
    const li = document.createElement("li");
    const role = document.createElement("select");
    role.setAttribute("aria-label", `Role of ${user.email || user.id}`);
    role.append(...["guest", "user", "admin"].map((r) => new Option(r, r, false, r === user.role)));
    role.addEventListener("change", () => updateUser(user, { role: role.value }, li));
    const active = document.createElement("input");
    active.type = "checkbox";
    active.checked = user.active;
    active.addEventListener("change", () => updateUser(user, { active: active.checked }, li));
    const activeLabel = document.createElement("label");
    activeLabel.append(active, " may sign in");
    const error = document.createElement("span");
    error.className = "form-error";
    li.append(`${user.email || "guest"} `, role, activeLabel, error);
    return li;
  }));
}
$("more-users").addEventListener("click", () => loadUsers(false).catch(report));

async function updateUser(user, change, li) {
  li.querySelector(".form-error").textContent = "";
  try {
    Object.assign(user, await api.request("PATCH", `/v1/admin/users/${user.id}`, { json: change }));
  } catch (error) {
    li.querySelector(".form-error").textContent = error.message;
    await loadUsers(true);
  }
}

// MARK: - Narrow screens: the session list is a drawer.

function closeDrawer() {
  document.body.classList.remove("drawer-open");
  $("menu").setAttribute("aria-expanded", "false");
}
$("menu").addEventListener("click", () => {
  const open = document.body.classList.toggle("drawer-open");
  $("menu").setAttribute("aria-expanded", String(open));
});
document.addEventListener("keydown", (event) => { if (event.key === "Escape") closeDrawer(); });

function report(error) {
  $("notice").textContent = error instanceof Error ? error.message : String(error);
}

// MARK: - Start: the refresh cookie, if any, signs in without asking.

(async () => {
  let signedIn = false;
  try { signedIn = await api.refresh(); } catch { /* offline: ask */ }
  $("loading").hidden = true;
  if (signedIn) {
    await enter();
  } else {
    $("signin").hidden = false;
    ready();
    $("email").focus();
  }
})().catch(report);
