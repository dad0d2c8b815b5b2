// The audit log: filters (time range, user, event type), paging by cursor, an entry in full.
import { api } from "../api.js";
import { showError } from "../shell.js";
import { el, setStatus } from "./dom.js";

const PAGE = 50;
const form = document.getElementById("audit-filters");
const status = document.getElementById("audit-status");
const error = document.getElementById("audit-error");
const table = document.getElementById("audit-table");
const body = document.getElementById("audit-body");
const next = document.getElementById("audit-next");
const first = document.getElementById("audit-first");
const dialog = document.getElementById("entry-dialog");
const names = new Map();
let cursor = null;
let nextCursor = null;

function utc(local) {
  // datetime-local is the browser's zone; the API takes ISO 8601 with its zone.
  return local ? new Date(local).toISOString() : "";
}

function query() {
  const params = new URLSearchParams({ limit: String(PAGE) });
  const since = utc(form.elements.since.value);
  const until = utc(form.elements.until.value);
  if (since) params.set("since", since);
  if (until) params.set("until", until);
  if (form.elements.user_id.value) params.set("user_id", form.elements.user_id.value);
  if (form.elements.type.value.trim()) params.set("type", form.elements.type.value.trim());
  if (cursor) params.set("cursor", cursor);
  return params;
}

function open(entry) {
  document.getElementById("entry-heading").textContent = `${entry.type ?? "entry"} at ${entry.time ?? "?"}`;
  document.getElementById("entry-json").textContent = JSON.stringify(entry, null, 2);
  dialog.showModal();
}

function row(entry) {
  const user = entry.user_id ? names.get(entry.user_id) ?? entry.user_id : "—";
  return el(
    "tr",
    {},
    el("td", { className: "mono" }, String(entry.time ?? "").replace("T", " ").slice(0, 19)),
    el("td", { className: "mono" }, entry.type ?? ""),
    el("td", {}, entry.outcome ?? (entry.status ? String(entry.status) : "")),
    el("td", {}, user),
    el("td", { className: "mono" }, entry.client_ip ?? ""),
    el(
      "td",
      {},
      el("button", { type: "button", className: "button small secondary", onclick: () => open(entry) }, "Open"),
    ),
  );
}

// Only the latest load may fill the table: an earlier, slower answer (the first page
// while the filter's is on its way) must not replace the one the person asked for.
let latest = 0;

async function load() {
  const mine = ++latest;
  setStatus(status, "Loading entries…");
  try {
    const answer = await api.get(`/api/v1/audit/events?${query()}`);
    if (mine !== latest) return;
    error.hidden = true;
    body.replaceChildren(...answer.events.map(row));
    table.hidden = answer.events.length === 0;
    setStatus(status, answer.events.length ? `${answer.events.length} entries, oldest first.` : "No entries match.");
    nextCursor = answer.next_cursor;
    next.hidden = !nextCursor;
    first.hidden = !cursor;
  } catch (failure) {
    if (mine !== latest) return;
    setStatus(status, "");
    table.hidden = true;
    showError(error, failure);
  }
}

async function loadUsers() {
  try {
    const people = await api.get("/api/v1/users/?limit=500");
    const select = form.elements.user_id;
    for (const user of people.users) {
      names.set(user.id, user.name || user.email);
      select.append(el("option", { value: user.id }, `${user.name} (${user.email})`));
    }
  } catch (failure) {
    showError(error, failure);
  }
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  cursor = null;
  load();
});
form.addEventListener("reset", () => {
  cursor = null;
  setTimeout(load);
});
next.addEventListener("click", () => {
  cursor = nextCursor;
  load();
});
first.addEventListener("click", () => {
  cursor = null;
  load();
});

await loadUsers();
load();
