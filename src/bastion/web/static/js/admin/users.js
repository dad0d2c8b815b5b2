// Users: add an account, edit one (name, e-mail, role, password), approve pending accounts,
// change roles, disable/enable, unlock, see and revoke sessions, delete; search and pages
// of 30.
// Every change but an edit asks for confirmation first; each reloads the list.
import { api, session } from "../api.js";
import { showError, toast } from "../shell.js";
import { confirmAction } from "./confirm.js";
import { el, setStatus } from "./dom.js";
import { sessionsList } from "../sessions.js";

const PAGE = 30; // the API's page (open-webui's ?page=)
const ROLES = ["pending", "user", "admin"];
const status = document.getElementById("users-status");
const error = document.getElementById("users-error");
const table = document.getElementById("users-table");
const body = document.getElementById("users-body");
const pager = document.getElementById("users-pager");
const editDialog = document.getElementById("edit-dialog");
const editForm = document.getElementById("edit-form");
const editError = document.getElementById("edit-error");
let page = 1;
let query = "";
let me = null;
let editing = null;

async function act(message, action, call, done) {
  if (!(await confirmAction(message, action))) return false;
  try {
    await call();
    error.hidden = true;
    toast(done);
  } catch (failure) {
    showError(error, failure);
  }
  await load();
  return true;
}

function actionButton(label, message, call, done, className = "secondary") {
  return el(
    "button",
    {
      type: "button",
      className: `button small ${className}`,
      onclick: () => act(message, label, call, done),
    },
    label,
  );
}

function row(user) {
  const self = me !== null && user.id === me.id;
  // Only the primary admin changes the primary admin (the server refuses anyone else).
  const fixed = self || user.is_primary;
  const who = user.name || user.email;
  const role = el("select", { "aria-label": `Role of ${who}`, disabled: fixed });
  for (const name of ROLES) role.append(el("option", { value: name, selected: name === user.role }, name));
  role.addEventListener("change", async () => {
    const chosen = role.value;
    const confirmed = await act(
      `Change the role of ${who} from ${user.role} to ${chosen}? Their sessions end.`,
      "Change role",
      () => api.post("/api/v1/users/update/role", { id: user.id, role: chosen }),
      `${who} is now ${chosen}.`,
    );
    if (!confirmed) role.value = user.role;
  });
  const states = [user.is_active ? "active" : "disabled"];
  if (user.locked) states.push("locked");
  if (user.role === "pending") states.push("waiting for approval");
  const actions = el("div", { className: "row-actions" });
  const edit = el("button", { type: "button", className: "button small secondary" }, "Edit");
  edit.addEventListener("click", () => openEdit(user, self, edit));
  actions.append(edit);
  if (!fixed) {
    if (user.role === "pending") {
      actions.append(
        actionButton(
          "Approve",
          `Approve ${who}? They can then sign in and chat.`,
          () => api.post("/api/v1/users/update/role", { id: user.id, role: "user" }),
          `${who} is approved.`,
          "primary",
        ),
      );
    }
    actions.append(
      user.is_active
        ? actionButton("Disable", `Disable ${who}? Their sessions end and they cannot sign in.`,
            () => api.post(`/api/v1/users/${encodeURIComponent(user.id)}/disable`), `${who} is disabled.`)
        : actionButton("Enable", `Enable ${who} again?`,
            () => api.post(`/api/v1/users/${encodeURIComponent(user.id)}/enable`), `${who} is enabled.`),
    );
  }
  if (user.locked) {
    actions.append(
      actionButton("Unlock", `Lift the sign-in lockout of ${who}?`,
        () => api.post(`/api/v1/users/${encodeURIComponent(user.id)}/unlock`), `${who} is unlocked.`),
    );
  }
  const sessions = el("button", { type: "button", className: "button small secondary" }, "Sessions");
  sessions.addEventListener("click", () => openSessions(user, sessions));
  actions.append(
    sessions,
    actionButton("Revoke sessions", `End every session of ${who}? They must sign in again.`,
      () => api.post(`/api/v1/users/${encodeURIComponent(user.id)}/revoke-sessions`),
      `The sessions of ${who} are revoked.`),
  );
  if (!fixed) {
    actions.append(
      actionButton("Delete", `Delete ${who} with their chats and files? This cannot be undone.`,
        () => api.del(`/api/v1/users/${encodeURIComponent(user.id)}`), `${who} is deleted.`, "danger"),
    );
  }
  return el(
    "tr",
    { dataset: { userId: user.id } },
    el(
      "td",
      {},
      user.name,
      self ? el("span", { className: "tag" }, "you") : null,
      user.is_primary ? el("span", { className: "tag" }, "primary admin") : null,
    ),
    el("td", { className: "mono" }, user.email),
    el("td", {}, role),
    el("td", {}, states.join(", ")),
    el("td", {}, actions),
  );
}

function openEdit(user, self, opener) {
  editing = { user, opener };
  const fields = editForm.elements;
  fields.name.value = user.name;
  fields.email.value = user.email;
  fields.role.value = user.role;
  fields.role.disabled = self; // an admin never changes their own role
  fields.password.value = "";
  editError.hidden = true;
  document.getElementById("edit-heading").textContent = `Edit ${user.name || user.email}`;
  editDialog.showModal();
}

const sessionsDialog = document.getElementById("sessions-dialog");
let sessionsOpener = null;

function openSessions(user, opener) {
  sessionsOpener = opener;
  const base = `/api/v1/users/${encodeURIComponent(user.id)}/sessions`;
  const parts = {
    table: document.getElementById("sessions-table"),
    body: document.getElementById("sessions-body"),
    status: document.getElementById("sessions-status"),
    error: document.getElementById("sessions-error"),
  };
  parts.error.hidden = true;
  document.getElementById("sessions-heading").textContent = `Sessions of ${user.name || user.email}`;
  sessionsList(parts, base, (id) => `${base}/${encodeURIComponent(id)}`)();
  sessionsDialog.showModal();
}

sessionsDialog.addEventListener("close", () => {
  if (sessionsOpener?.isConnected) sessionsOpener.focus();
  sessionsOpener = null;
});
document.getElementById("sessions-close").addEventListener("click", () => sessionsDialog.close());

editDialog.addEventListener("close", () => {
  if (editing?.opener.isConnected) editing.opener.focus();
  editing = null;
});
document.getElementById("edit-cancel").addEventListener("click", () => editDialog.close());
editForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  if (editing === null) return;
  const fields = editForm.elements;
  const { user } = editing;
  const change = { name: fields.name.value, email: fields.email.value };
  if (!fields.role.disabled) change.role = fields.role.value;
  if (fields.password.value) change.password = fields.password.value;
  try {
    const saved = await api.post(`/api/v1/users/${encodeURIComponent(user.id)}/update`, change);
    editDialog.close();
    toast(`${saved.name || saved.email} is saved.`);
    await load();
    // The rows are drawn anew: the keyboard goes on from this account's Edit button.
    body.querySelector(`tr[data-user-id="${CSS.escape(user.id)}"] button`)?.focus();
  } catch (failure) {
    showError(editError, failure);
  }
});

const addForm = document.getElementById("add-form");
const addError = document.getElementById("add-error");
addForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  const fields = addForm.elements;
  try {
    const created = await api.post("/api/v1/auths/add", {
      name: fields.name.value,
      email: fields.email.value,
      password: fields.password.value,
      role: fields.role.value,
    });
    addError.hidden = true;
    addForm.reset();
    toast(`The account of ${created.name} is created.`);
    await load();
  } catch (failure) {
    showError(addError, failure);
  }
});

async function load() {
  try {
    if (me === null) me = await session();
    // Newest first: accounts waiting for approval come at the top.
    const search = new URLSearchParams({ page: String(page), order_by: "created_at", direction: "desc" });
    if (query) search.set("query", query);
    const answer = await api.get(`/api/v1/users/?${search}`);
    error.hidden = true;
    body.replaceChildren(...answer.users.map(row));
    table.hidden = answer.users.length === 0;
    setStatus(status, answer.users.length ? "" : query ? `No account matches “${query}”.` : "No accounts.");
    const first = (page - 1) * PAGE;
    pager.hidden = answer.total <= PAGE;
    document.getElementById("users-page").textContent =
      `${first + 1}–${first + answer.users.length} of ${answer.total}`;
    document.getElementById("users-prev").disabled = page === 1;
    document.getElementById("users-next").disabled = first + PAGE >= answer.total;
  } catch (failure) {
    setStatus(status, "");
    showError(error, failure);
  }
}

document.getElementById("users-search").addEventListener("submit", (event) => {
  event.preventDefault();
  query = document.getElementById("users-query").value.trim();
  page = 1;
  load();
});
document.getElementById("users-prev").addEventListener("click", () => {
  page = Math.max(1, page - 1);
  load();
});
document.getElementById("users-next").addEventListener("click", () => {
  page += 1;
  load();
});
load();
