// Sessions: where an account is signed in (device, browser, address, last activity),
// each one revocable. Used by the settings page (one's own) and the users admin page.
import { api } from "./api.js";
import { showError, toast } from "./shell.js";
import { confirmAction } from "./admin/confirm.js";
import { el, setStatus, when } from "./admin/dom.js";

function row(item, revokePath, parts, reload) {
  const label = `${item.browser} on ${item.device}`;
  const cells = [
    el("td", {}, el("span", { className: "session-device" }, label),
      el("span", { className: "hint session-started" }, `Signed in ${when(item.created_at)}`)),
    el("td", { className: "mono" }, item.ip),
    el("td", {}, when(item.last_active_at)),
  ];
  let action;
  if (item.current) {
    action = el("span", { className: "tag session-here" }, "This device");
  } else {
    action = el("button", { type: "button", className: "button small danger" }, "Revoke");
    action.setAttribute("aria-label", `Revoke the session of ${label}`);
    action.addEventListener("click", async () => {
      if (!(await confirmAction(`Sign out ${label}? It must sign in again.`, "Revoke"))) return;
      try {
        await api.del(revokePath(item.id));
        toast(`${label} signed out.`);
      } catch (failure) {
        showError(parts.error, failure);
      }
      await reload();
    });
  }
  return el("tr", { dataset: { sessionId: item.id } }, ...cells, el("td", {}, action));
}

// parts: { table, body, status, error, others? }; listPath and revokePath(id) the API's.
export function sessionsList(parts, listPath, revokePath) {
  async function reload() {
    setStatus(parts.status, "Loading sessions…");
    try {
      const items = await api.get(listPath);
      parts.body.replaceChildren(...items.map((item) => row(item, revokePath, parts, reload)));
      parts.table.hidden = items.length === 0;
      if (parts.others) parts.others.hidden = !items.some((item) => !item.current);
      setStatus(parts.status, items.length ? "" : "No active sessions.");
    } catch (failure) {
      setStatus(parts.status, "");
      parts.table.hidden = true;
      showError(parts.error, failure);
    }
  }
  return reload;
}

export function bindOwnSessions() {
  const parts = {
    table: document.getElementById("sessions-table"),
    body: document.getElementById("sessions-body"),
    status: document.getElementById("sessions-status"),
    error: document.getElementById("sessions-error"),
    others: document.getElementById("revoke-others"),
  };
  if (!parts.table) return;
  const reload = sessionsList(parts, "/api/v1/auths/sessions", (id) => `/api/v1/auths/sessions/${encodeURIComponent(id)}`);
  parts.others.addEventListener("click", async () => {
    if (!(await confirmAction("Sign out every other session? Only this device stays signed in.", "Sign out others"))) return;
    try {
      const answer = await api.post("/api/v1/auths/sessions/revoke-others");
      toast(answer.revoked === 1 ? "1 session signed out." : `${answer.revoked} sessions signed out.`);
    } catch (failure) {
      showError(parts.error, failure);
    }
    await reload();
  });
  reload();
}
