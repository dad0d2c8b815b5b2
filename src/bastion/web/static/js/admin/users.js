// Users: approve pending accounts, change roles, disable/enable, unlock, revoke sessions,
// delete. Every change asks for confirmation first and then reloads the list.
import { api, session } from "../api.js";
import { showError, toast } from "../shell.js";
import { confirmAction } from "./confirm.js";
import { el, setStatus } from "./dom.js";

const PAGE = 50;
const ROLES = ["pending", "user", "admin"];
const status = document.getElementById("users-status");
const error = document.getElementById("users-error");
const table = document.getElementById("users-table");
const body = document.getElementById("users-body");
const pager = document.getElementById("users-pager");
let skip = 0;
let me = null;

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
  const who = user.name || user.email;
  const role = el("select", { "aria-label": `Role of ${who}`, disabled: self });
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
  if (!self) {
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
  actions.append(
    actionButton("Revoke sessions", `End every session of ${who}? They must sign in again.`,
      () => api.post(`/api/v1/users/${encodeURIComponent(user.id)}/revoke-sessions`),
      `The sessions of ${who} are revoked.`),
  );
  if (!self) {
    actions.append(
      actionButton("Delete", `Delete ${who} with their chats and files? This cannot be undone.`,
        () => api.del(`/api/v1/users/${encodeURIComponent(user.id)}`), `${who} is deleted.`, "danger"),
    );
  }
  return el(
    "tr",
    { dataset: { userId: user.id } },
    el("td", {}, user.name, self ? el("span", { className: "tag" }, "you") : null),
    el("td", { className: "mono" }, user.email),
    el("td", {}, role),
    el("td", {}, states.join(", ")),
    el("td", {}, actions),
  );
}

async function load() {
  try {
    if (me === null) me = await session();
    const answer = await api.get(`/api/v1/users/?skip=${skip}&limit=${PAGE}`);
    body.replaceChildren(...answer.users.map(row));
    table.hidden = answer.users.length === 0;
    setStatus(status, answer.users.length === 0 ? "No accounts." : "");
    pager.hidden = answer.total <= PAGE;
    document.getElementById("users-page").textContent =
      `${skip + 1}–${skip + answer.users.length} of ${answer.total}`;
    document.getElementById("users-prev").disabled = skip === 0;
    document.getElementById("users-next").disabled = skip + PAGE >= answer.total;
  } catch (failure) {
    setStatus(status, "");
    showError(error, failure);
  }
}

document.getElementById("users-prev").addEventListener("click", () => {
  skip = Math.max(0, skip - PAGE);
  load();
});
document.getElementById("users-next").addEventListener("click", () => {
  skip += PAGE;
  load();
});
load();
