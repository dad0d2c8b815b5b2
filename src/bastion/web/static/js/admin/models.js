// Model access: for each model, the people and groups who may use it.
import { api } from "../api.js";
import { showError, toast } from "../shell.js";
import { el, setStatus } from "./dom.js";

const status = document.getElementById("models-status");
const error = document.getElementById("models-error");
const list = document.getElementById("models-list");

function card(model, access, users, index) {
  const allowed = new Set(access.user_ids);
  const boxes = users.map((user) =>
    el(
      "label",
      { className: "person-choice" },
      el("input", { type: "checkbox", value: user.id, checked: allowed.has(user.id) }),
      ` ${user.name} `,
      el("span", { className: "mono hint" }, user.email),
    ),
  );
  const groupsId = `groups-${index}`;
  const groups = el("input", {
    type: "text",
    id: groupsId,
    value: access.groups.join(", "),
    placeholder: "group names, comma-separated",
    maxlength: "2000",
  });
  const problem = el("p", { className: "error", role: "alert", hidden: true });
  const summary = el("p", { className: "hint" });
  const describe = (ids, names) => {
    summary.textContent =
      ids.length + names.length === 0
        ? "Open to every approved user."
        : `Only ${ids.length} ${ids.length === 1 ? "person" : "people"} and ${names.length} ${names.length === 1 ? "group" : "groups"}.`;
  };
  describe(access.user_ids, access.groups);
  const form = el(
    "form",
    { className: "card model-card" },
    el("h2", { className: "mono" }, model.id),
    summary,
    el("fieldset", {}, el("legend", {}, "People"), ...(boxes.length ? boxes : [el("p", { className: "empty" }, "No accounts.")])),
    el("label", { for: groupsId }, "Groups"),
    groups,
    problem,
    el("button", { type: "submit", className: "button" }, "Save access"),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const userIds = boxes.map((box) => box.querySelector("input")).filter((box) => box.checked).map((box) => box.value);
    const names = groups.value.split(",").map((name) => name.trim()).filter(Boolean);
    try {
      const saved = await api.post(`/api/v1/models/${encodeURIComponent(model.id)}/access`, {
        user_ids: userIds,
        groups: names,
      });
      problem.hidden = true;
      describe(saved.user_ids, saved.groups);
      toast(`Access to ${model.id} saved.`);
    } catch (failure) {
      showError(problem, failure);
    }
  });
  return form;
}

async function load() {
  try {
    const [models, people] = await Promise.all([api.get("/api/models"), api.get("/api/v1/users/?limit=500")]);
    const users = people.users.filter((user) => user.role !== "pending");
    const accesses = await Promise.all(
      models.data.map((model) => api.get(`/api/v1/models/${encodeURIComponent(model.id)}/access`)),
    );
    list.replaceChildren(...models.data.map((model, i) => card(model, accesses[i], users, i)));
    setStatus(status, models.data.length ? "" : models.notice || "No models: no upstream answers.");
  } catch (failure) {
    setStatus(status, "");
    showError(error, failure);
  }
}

load();
