// A chat shared read-only with given people or groups (its owner's side), and the chats
// others shared with this account (the sidebar's "Shared with me"). Names are text only.
import { api } from "./api.js";
import { el } from "./admin/dom.js";
import { showError, toast } from "./shell.js";

const $ = (id) => document.getElementById(id);

export function createGrants({ chatId, isAdmin }) {
  const els = {
    toggle: $("share-people"),
    panel: $("grants-panel"),
    status: $("grants-status"),
    list: $("grants-list"),
    form: $("grant-form"),
    who: $("grant-who"),
    idLabel: $("grant-id-label"),
    idHint: $("grant-id-hint"),
    userId: $("grant-user-id"),
    error: $("grants-error"),
  };
  let grants = [];
  const names = new Map(); // "user:ID" / "group:ID" -> what the person reads
  const path = () => `/api/v1/chats/shared/${encodeURIComponent(chatId())}/access`;
  const key = (grant) => `${grant.principal_type}:${grant.principal_id}`;
  const label = (grant) =>
    names.get(key(grant)) ?? (grant.principal_type === "group" ? `Group ${grant.principal_id}` : `Account ${grant.principal_id}`);

  function render() {
    els.list.replaceChildren(
      ...grants.map((grant) => {
        const revoke = el("button", { type: "button", className: "button small danger", "aria-label": `Revoke ${label(grant)}` }, "Revoke");
        revoke.addEventListener("click", async () => {
          await save(grants.filter((other) => key(other) !== key(grant)), `${label(grant)} can no longer read this chat.`);
          els.who.focus();
        });
        return el("li", {}, el("span", {}, label(grant)), revoke);
      }),
    );
    els.status.textContent = grants.length ? "" : "Not shared with anyone yet.";
  }

  async function save(next, done) {
    try {
      const answer = await api.post(`${path()}/update`, {
        access_grants: next.map(({ principal_type, principal_id }) => ({ principal_type, principal_id, permission: "read" })),
      });
      grants = answer.access_grants;
      els.error.hidden = true;
      render();
      toast(done);
      return true;
    } catch (failure) {
      showError(els.error, failure);
      return false;
    }
  }

  async function choices() {
    const groups = await api.get("/api/v1/groups/");
    const people = isAdmin ? (await api.get("/api/v1/users/?limit=500")).users.filter((u) => u.role !== "pending") : [];
    els.who.replaceChildren(el("option", { value: "" }, "Choose…"));
    if (groups.length) {
      els.who.append(el("optgroup", { label: "Groups" },
        ...groups.map((group) => el("option", { value: `group:${group.id}` }, group.name))));
    }
    for (const group of groups) names.set(`group:${group.id}`, `Group ${group.name}`);
    if (people.length) {
      els.who.append(el("optgroup", { label: "People" },
        ...people.map((user) => el("option", { value: `user:${user.id}` }, `${user.name} (${user.email})`))));
    }
    for (const user of people) names.set(`user:${user.id}`, `${user.name} (${user.email})`);
    // No route lets others look accounts up: someone else is named by their account id.
    if (!isAdmin) els.who.append(el("option", { value: "id" }, "Someone, by account id"));
  }

  async function open() {
    els.panel.hidden = false;
    els.toggle.setAttribute("aria-expanded", "true");
    els.status.textContent = "Loading…";
    try {
      await choices();
      grants = (await api.get(path())).access_grants;
      render();
    } catch (failure) {
      els.status.textContent = "";
      showError(els.error, failure);
    }
    els.who.focus();
  }

  function close() {
    els.panel.hidden = true;
    els.toggle.setAttribute("aria-expanded", "false");
  }

  els.toggle.addEventListener("click", () => (els.panel.hidden ? open() : close()));
  els.panel.addEventListener("keydown", (event) => {
    if (event.key === "Escape") {
      close();
      els.toggle.focus();
    }
  });
  els.who.addEventListener("change", () => {
    const byId = els.who.value === "id";
    els.idLabel.hidden = !byId;
    els.idHint.hidden = !byId;
    els.userId.required = byId;
    if (byId) els.userId.focus();
  });
  els.form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const [type, ...rest] = els.who.value === "id" ? ["user", els.userId.value.trim()] : els.who.value.split(":");
    const grant = { principal_type: type, principal_id: rest.join(":") };
    if (!grant.principal_id) return;
    if (grants.some((other) => key(other) === key(grant))) {
      toast(`${label(grant)} can already read this chat.`);
      return;
    }
    if (await save([...grants, grant], `${label(grant)} can read this chat.`)) {
      els.userId.value = "";
      els.who.value = "";
      els.who.dispatchEvent(new Event("change"));
    }
  });

  return {
    // A chat is shared once it exists: the button waits for its first save.
    setEnabled(enabled) {
      els.toggle.disabled = !enabled;
      if (!enabled) close();
    },
  };
}

export async function loadSharedWithMe() {
  const list = $("shared-with-me");
  const status = $("shared-status");
  try {
    const chats = await api.get("/api/v1/chats/shared");
    list.replaceChildren(
      ...chats.map((chat) =>
        el("li", {}, el("a", { href: `/shared/${encodeURIComponent(chat.id)}` }, chat.title || "Untitled chat")),
      ),
    );
    status.textContent = chats.length ? "" : "Nothing yet.";
    status.hidden = chats.length > 0;
  } catch (failure) {
    showError(status, failure);
  }
}
