// Groups: create, rename and describe, the permissions a group grants, its members (picked
// from the accounts), delete after a confirmation. Each change reloads that group.
import { api } from "../api.js";
import { showError, toast } from "../shell.js";
import { confirmAction } from "./confirm.js";
import { el, setStatus } from "./dom.js";

// The permissions a group may grant (the API knows no others), in words.
const SWITCHES = [
  ["features", "api_keys", "Create API keys"],
  ["features", "web_fetch", "Fetch web pages"],
  ["chat", "file_upload", "Upload files"],
  ["chat", "share", "Share chats"],
];
const status = document.getElementById("groups-status");
const error = document.getElementById("groups-error");
const list = document.getElementById("groups-list");
let accounts = [];

const groupPath = (group, tail = "") => `/api/v1/groups/id/${encodeURIComponent(group.id)}${tail}`;

function settingsForm(group, problem) {
  const n = group.id;
  const name = el("input", { type: "text", name: "name", required: true, maxlength: "100", value: group.name, autocomplete: "off" });
  const description = el("input", { type: "text", name: "description", maxlength: "2000", value: group.description, autocomplete: "off" });
  const switches = SWITCHES.map(([section, key, label]) =>
    el(
      "label",
      { className: "person-choice" },
      el("input", {
        type: "checkbox",
        dataset: { section, key },
        checked: group.permissions?.[section]?.[key] === true,
      }),
      ` ${label} `,
      el("span", { className: "mono hint" }, `${section}.${key}`),
    ),
  );
  const form = el(
    "form",
    { className: "stack", "aria-label": `Settings of ${group.name}` },
    el("label", { for: `name-${n}` }, "Group name"),
    name,
    el("label", { for: `description-${n}` }, "Description"),
    description,
    el("fieldset", { className: "switches" }, el("legend", {}, "Members may"), ...switches),
    el("button", { type: "submit", className: "button" }, "Save group"),
  );
  name.id = `name-${n}`;
  description.id = `description-${n}`;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const permissions = { features: {}, chat: {} };
    for (const box of form.querySelectorAll("input[type=checkbox]")) {
      permissions[box.dataset.section][box.dataset.key] = box.checked;
    }
    try {
      const saved = await api.post(groupPath(group, "/update"), {
        name: name.value,
        description: description.value,
        permissions,
      });
      toast(`Group ${saved.name} saved.`);
      await load();
      document.getElementById(`name-${group.id}`)?.focus();
    } catch (failure) {
      showError(problem, failure);
    }
  });
  return form;
}

function membersPart(group, members, problem) {
  const who = (user) => user.name || user.email;
  const change = async (tail, ids, done) => {
    try {
      await api.post(groupPath(group, tail), { user_ids: ids });
      toast(done);
      await load();
      // The card is drawn anew: the keyboard goes on from its member picker.
      document.getElementById(`add-${group.id}`)?.focus();
    } catch (failure) {
      showError(problem, failure);
    }
  };
  const rows = members.map((user) => {
    const remove = el(
      "button",
      { type: "button", className: "button small secondary", "aria-label": `Remove ${who(user)} from ${group.name}` },
      "Remove",
    );
    remove.addEventListener("click", () =>
      change("/users/remove", [user.id], `${who(user)} is no longer in ${group.name}.`),
    );
    return el("li", {}, el("span", {}, who(user), " ", el("span", { className: "mono hint" }, user.email)), remove);
  });
  const inside = new Set(members.map((user) => user.id));
  const pick = el("select", { id: `add-${group.id}` }, el("option", { value: "" }, "Choose an account"));
  for (const user of accounts.filter((account) => !inside.has(account.id))) {
    pick.append(el("option", { value: user.id }, `${who(user)} (${user.email})`));
  }
  const add = el("form", { className: "member-add" },
    el("label", { for: pick.id }, "Add a member"), pick,
    el("button", { type: "submit", className: "button secondary" }, "Add"));
  add.addEventListener("submit", (event) => {
    event.preventDefault();
    if (!pick.value) return;
    const user = accounts.find((account) => account.id === pick.value);
    change("/users/add", [pick.value], `${who(user)} is in ${group.name}.`);
  });
  return el(
    "div",
    { className: "members" },
    el("h3", {}, `Members (${members.length})`),
    rows.length ? el("ul", { className: "member-list", "aria-label": `Members of ${group.name}` }, ...rows)
      : el("p", { className: "empty" }, "No members yet."),
    add,
  );
}

function card(group, members) {
  const problem = el("p", { className: "error", role: "alert", hidden: true });
  const heading = el("h2", { id: `group-${group.id}` }, group.name);
  const remove = el("button", { type: "button", className: "button danger" }, "Delete group");
  remove.addEventListener("click", async () => {
    const message = `Delete the group ${group.name}? Its members lose what it grants and model access lists naming it no longer let them in.`;
    if (!(await confirmAction(message, "Delete group"))) return;
    try {
      await api.del(groupPath(group, "/delete"));
      toast(`Group ${group.name} deleted.`);
      await load();
    } catch (failure) {
      showError(problem, failure);
    }
  });
  return el(
    "section",
    { className: "card group-card", "aria-labelledby": heading.id, dataset: { groupId: group.id } },
    heading,
    group.description ? el("p", { className: "hint" }, group.description) : null,
    el("div", { className: "group-parts" }, settingsForm(group, problem), membersPart(group, members, problem)),
    problem,
    el("div", { className: "dialog-actions" }, remove),
  );
}

async function load() {
  try {
    const [groups, people] = await Promise.all([api.get("/api/v1/groups/"), api.get("/api/v1/users/?limit=500")]);
    accounts = people.users.filter((user) => user.role !== "pending");
    const members = await Promise.all(groups.map((group) => api.post(groupPath(group, "/users"))));
    error.hidden = true;
    list.replaceChildren(...groups.map((group, i) => card(group, members[i])));
    setStatus(status, groups.length ? "" : "No groups yet.");
  } catch (failure) {
    setStatus(status, "");
    showError(error, failure);
  }
}

const create = document.getElementById("group-create");
create.addEventListener("submit", async (event) => {
  event.preventDefault();
  const problem = document.getElementById("create-error");
  try {
    const made = await api.post("/api/v1/groups/create", {
      name: create.elements.name.value,
      description: create.elements.description.value,
    });
    problem.hidden = true;
    create.reset();
    toast(`Group ${made.name} created.`);
    await load();
    document.getElementById(`name-${made.id}`)?.focus();
  } catch (failure) {
    showError(problem, failure);
  }
});
load();
