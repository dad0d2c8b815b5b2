// The one way the pages talk to the API: same origin, JSON in and out, the session's
// CSRF token on every state change, and errors in words taken from the API's `detail`.

const UNSAFE = new Set(["POST", "PUT", "PATCH", "DELETE"]);
let csrfToken = null;

export class ApiError extends Error {
  constructor(status, detail, code) {
    super(detail);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
  }
}

export function rememberCsrf(answer) {
  if (answer && typeof answer.csrf_token === "string") csrfToken = answer.csrf_token;
  return answer;
}

function describe(detail, status) {
  if (typeof detail === "string" && detail) return detail;
  // FastAPI's validation errors: a list of {loc, msg}.
  if (Array.isArray(detail) && detail.length) {
    return detail
      .map((item) => {
        const field = Array.isArray(item.loc) ? item.loc.filter((p) => p !== "body").join(".") : "";
        return field ? `${field}: ${item.msg}` : String(item.msg);
      })
      .join("; ");
  }
  return `The server answered ${status}.`;
}

async function failure(response) {
  let detail = null;
  let code = null;
  try {
    const body = await response.json();
    detail = body.detail;
    code = body.code ?? null;
  } catch {
    // not JSON: the status says enough
  }
  return new ApiError(response.status, describe(detail, response.status), code);
}

// The current account, and with it the CSRF token of this session (the cookie is HttpOnly).
export async function session() {
  return rememberCsrf(await request("GET", "/api/v1/auths/"));
}

async function ensureCsrf() {
  if (csrfToken === null) await session();
}

// request(method, path, body?, {signal, raw}) -> parsed JSON (or the Response when raw).
export async function request(method, path, body, options = {}) {
  const headers = { Accept: "application/json" };
  const init = { method, headers, credentials: "same-origin", signal: options.signal };
  if (UNSAFE.has(method)) {
    // The sign-in steps and sign-up act on no session yet.
    const isLogin = path.startsWith("/api/v1/auths/signin") || path === "/api/v1/auths/signup";
    if (!isLogin) await ensureCsrf();
    if (csrfToken !== null) headers["X-CSRF-Token"] = csrfToken;
  }
  if (body instanceof FormData) {
    init.body = body;
  } else if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  if (!response.ok) throw await failure(response);
  if (options.raw) return response;
  if (response.status === 204) return null;
  return response.json();
}

export const api = {
  get: (path, options) => request("GET", path, undefined, options),
  post: (path, body, options) => request("POST", path, body ?? {}, options),
  del: (path, options) => request("DELETE", path, undefined, options),
};

export async function signOut() {
  // After a single sign-on the server names the provider's sign-out page: the session
  // there ends too, or the next visit would sign straight back in.
  let next = "/auth";
  try {
    const answer = await request("POST", "/api/v1/auths/signout", {});
    if (typeof answer?.redirect_url === "string") next = answer.redirect_url;
  } finally {
    csrfToken = null;
    // replace: the private page does not stay in history as the entry Back returns to.
    window.location.replace(next);
  }
}
