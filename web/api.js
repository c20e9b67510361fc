// The page's client of parley's API: the access token in memory only (never stored), the
// refresh token in an HttpOnly cookie the page cannot read (asked for with
// `X-Parley-Refresh: cookie`), one silent refresh on a 401, and problem documents turned into
// errors that say what went wrong.

/** An answer of the API that was not a success: RFC 9457 problem details. */
export class ApiError extends Error {
  constructor(status, problem, headers) {
    super(problem.detail || `HTTP ${status}`);
    this.status = status;
    this.code = problem.code || "";
    this.fields = problem.errors || [];
    this.tier = problem.tier || null;
    this.retryAfter = Number(headers.get("Retry-After")) || null;
  }
}

export class Api {
  constructor() {
    this.token = null;
    this.user = null;
    /** Called with each answer's rate-limit headers (limit, remaining, reset seconds) and its path. */
    this.onLimits = () => {};
    /** Called when the sign-in has ended and a refresh could not renew it. */
    this.onSignedOut = () => {};
  }

  /** Sends a request; the parsed JSON answer (null for 204), or the response when `raw`. */
  async request(method, path, { json, headers = {}, raw = false, signal } = {}) {
    let response = await this.fetch(method, path, json, headers, signal);
    if (response.status === 401 && this.token) {
      if (await this.refresh()) {
        response = await this.fetch(method, path, json, headers, signal);
      } else {
        this.signedOut();
      }
    }
    const limit = response.headers.get("X-RateLimit-Limit");
    if (limit !== null) {
      this.onLimits({ limit: Number(limit), remaining: Number(response.headers.get("X-RateLimit-Remaining")),
                      reset: Number(response.headers.get("X-RateLimit-Reset")), path });
    }
    if (!response.ok) {
      let problem = {};
      try { problem = await response.json(); } catch { /* not a problem document */ }
      if (response.status === 401) this.signedOut();
      throw new ApiError(response.status, problem, response.headers);
    }
    if (raw) return response;
    if (response.status === 204) return null;
    return response.json();
  }

  fetch(method, path, json, headers, signal) {
    const init = { method, headers: { ...headers }, credentials: "same-origin", signal };
    if (this.token) init.headers.Authorization = `Bearer ${this.token}`;
    if (json !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(json);
    }
    return fetch(path, init);
  }

  signedOut() {
    if (!this.token) return;
    this.token = null;
    this.user = null;
    this.onSignedOut();
  }

  /** Renews the access token from the refresh cookie; false if there is none or it ended. */
  async refresh() {
    const response = await fetch("/v1/auth/refresh", { method: "POST", credentials: "same-origin",
                                                       headers: { "X-Parley-Refresh": "cookie" } });
    if (!response.ok) return false;
    this.take(await response.json());
    return true;
  }

  /** Signs in (`login`, `register` or `guest`); the refresh token goes to the cookie. */
  async signIn(kind, body) {
    const response = await fetch(`/v1/auth/${kind}`, {
      method: "POST", credentials: "same-origin",
      headers: { "X-Parley-Refresh": "cookie", ...(body ? { "Content-Type": "application/json" } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    if (!response.ok) {
      let problem = {};
      try { problem = await response.json(); } catch { /* not a problem document */ }
      throw new ApiError(response.status, problem, response.headers);
    }
    this.take(await response.json());
  }

  async signOut() {
    try { await this.request("POST", "/v1/auth/logout"); } finally { this.token = null; this.user = null; }
  }

  take(tokens) {
    this.token = tokens.access_token;
    this.user = tokens.user;
  }
}
