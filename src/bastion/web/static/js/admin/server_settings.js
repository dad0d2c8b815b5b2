// Server settings: sign-in, API keys, the model connections, files and web pages. Each
// form saves its own part; a refused value is told under its form, and the form shows
// again what is in force (the server changed nothing).
import { api } from "../api.js";
import { showError, toast } from "../shell.js";
import { el, setStatus } from "./dom.js";

const status = document.getElementById("settings-status");
const pageError = document.getElementById("settings-error");
const forms = {
  accounts: document.getElementById("accounts-form"),
  apiKeys: document.getElementById("api-keys-form"),
  openai: document.getElementById("openai-form"),
  ollama: document.getElementById("ollama-form"),
  retrieval: document.getElementById("retrieval-form"),
};
const ACCOUNT_FIELDS = [
  "ENABLE_SIGNUP",
  "DEFAULT_USER_ROLE",
  "JWT_EXPIRES_IN",
  "SHOW_ADMIN_DETAILS",
  "ENABLE_PASSWORD_VALIDATION",
  "PASSWORD_VALIDATION_REGEX_PATTERN",
  "PASSWORD_VALIDATION_HINT",
];
const API_KEY_FIELDS = ["ENABLE_API_KEY", "ENABLE_API_KEY_ENDPOINT_RESTRICTIONS", "API_KEY_ALLOWED_ENDPOINTS"];

const field = (form, name) => form.elements.namedItem(name);
const formError = (form) => form.querySelector("p.error");
const list = (text) =>
  text
    .split(",")
    .map((part) => part.trim())
    .filter(Boolean);

function fill(form, values, names) {
  for (const name of names) {
    const input = field(form, name);
    if (input.type === "checkbox") input.checked = values[name] === true;
    else input.value = values[name] ?? "";
  }
}

function read(form, names) {
  const values = {};
  for (const name of names) {
    const input = field(form, name);
    values[name] = input.type === "checkbox" ? input.checked : input.value;
  }
  return values;
}

// One row a connection: its URL and, for OpenAI, its key (as the server shows it).
function connectionRow(kind, position, url, key) {
  const n = `${kind}-${position}-${Math.random().toString(36).slice(2, 8)}`;
  const urlInput = el("input", {
    type: "url",
    id: `url-${n}`,
    className: "connection-url mono",
    value: url,
    required: true,
    maxlength: "2048",
    autocomplete: "off",
    placeholder: kind === "openai" ? "https://api.example.com/v1" : "http://ollama:11434",
  });
  const parts = [el("label", { for: `url-${n}` }, "Base URL"), urlInput];
  if (kind === "openai") {
    const keyInput = el("input", {
      type: "text",
      id: `key-${n}`,
      className: "connection-key mono",
      value: key,
      maxlength: "4096",
      autocomplete: "off",
      spellcheck: "false",
    });
    parts.push(el("label", { for: `key-${n}` }, "Key"), keyInput);
  }
  const remove = el("button", { type: "button", className: "button secondary" }, "Remove");
  const row = el("li", { className: "connection-row" }, el("div", { className: "connection-fields" }, ...parts), remove);
  remove.addEventListener("click", () => {
    const next = row.nextElementSibling ?? row.previousElementSibling;
    row.remove();
    (next?.querySelector("input") ?? document.getElementById(`${kind}-add`)).focus();
  });
  return row;
}

function fillConnections(kind, urls, keys = []) {
  const holder = document.getElementById(`${kind}-list`);
  holder.replaceChildren(...urls.map((url, i) => connectionRow(kind, i, url, keys[i] ?? "")));
}

function readConnections(kind) {
  const rows = [...document.getElementById(`${kind}-list`).children];
  return {
    urls: rows.map((row) => row.querySelector(".connection-url").value.trim()),
    keys: rows.map((row) => row.querySelector(".connection-key")?.value.trim() ?? ""),
  };
}

function showAdmin(config) {
  fill(forms.accounts, config, ACCOUNT_FIELDS);
  fill(forms.apiKeys, config, API_KEY_FIELDS);
  document.getElementById("start-time-list").replaceChildren(
    ...(config.START_TIME_ONLY ?? []).map((name) => el("li", {}, name)),
  );
  document.getElementById("start-time").hidden = false;
}

function showOpenai(config) {
  field(forms.openai, "ENABLE_OPENAI_API").checked = config.ENABLE_OPENAI_API === true;
  fillConnections("openai", config.OPENAI_API_BASE_URLS, config.OPENAI_API_KEYS);
}

function showOllama(config) {
  field(forms.ollama, "ENABLE_OLLAMA_API").checked = config.ENABLE_OLLAMA_API === true;
  fillConnections("ollama", config.OLLAMA_BASE_URLS);
}

function showRetrieval(config) {
  field(forms.retrieval, "FILE_MAX_SIZE").value = config.FILE_MAX_SIZE;
  field(forms.retrieval, "ENABLE_WEB_LOADER_SSL_VERIFICATION").checked = config.web.ENABLE_WEB_LOADER_SSL_VERIFICATION === true;
  field(forms.retrieval, "ENABLE_LOCAL_WEB_FETCH").checked = config.web.ENABLE_LOCAL_WEB_FETCH === true;
  field(forms.retrieval, "WEB_FETCH_FILTER_LIST").value = config.web.WEB_FETCH_FILTER_LIST.join(",");
}

const PARTS = [
  ["/api/v1/auths/admin/config", showAdmin],
  ["/openai/config", showOpenai],
  ["/ollama/config", showOllama],
  ["/api/v1/retrieval/config", showRetrieval],
];

async function load() {
  const answers = await Promise.all(PARTS.map(([path]) => api.get(path)));
  answers.forEach((answer, i) => PARTS[i][1](answer));
}

// Saves one form: on a refusal its error shows under it and the form shows what is in force.
function saving(form, path, body, show, done) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const problem = formError(form);
    problem.hidden = true;
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      show(await api.post(path, body()));
      toast(done);
    } catch (failure) {
      try {
        show(await api.get(path.replace(/\/update$/, "")));
      } catch {
        // the error below says what matters
      }
      showError(problem, failure);
    } finally {
      button.disabled = false;
    }
  });
}

saving(forms.accounts, "/api/v1/auths/admin/config", () => read(forms.accounts, ACCOUNT_FIELDS), showAdmin, "Sign-in settings saved.");
saving(forms.apiKeys, "/api/v1/auths/admin/config", () => read(forms.apiKeys, API_KEY_FIELDS), showAdmin, "API-key settings saved.");
saving(
  forms.openai,
  "/openai/config/update",
  () => {
    const { urls, keys } = readConnections("openai");
    return {
      ENABLE_OPENAI_API: field(forms.openai, "ENABLE_OPENAI_API").checked,
      OPENAI_API_BASE_URLS: urls,
      OPENAI_API_KEYS: keys,
      OPENAI_API_CONFIGS: {},
    };
  },
  showOpenai,
  "OpenAI connections saved.",
);
saving(
  forms.ollama,
  "/ollama/config/update",
  () => ({
    ENABLE_OLLAMA_API: field(forms.ollama, "ENABLE_OLLAMA_API").checked,
    OLLAMA_BASE_URLS: readConnections("ollama").urls,
    OLLAMA_API_CONFIGS: {},
  }),
  showOllama,
  "Ollama connections saved.",
);
saving(
  forms.retrieval,
  "/api/v1/retrieval/config/update",
  () => ({
    FILE_MAX_SIZE: Number(field(forms.retrieval, "FILE_MAX_SIZE").value),
    web: {
      ENABLE_WEB_LOADER_SSL_VERIFICATION: field(forms.retrieval, "ENABLE_WEB_LOADER_SSL_VERIFICATION").checked,
      ENABLE_LOCAL_WEB_FETCH: field(forms.retrieval, "ENABLE_LOCAL_WEB_FETCH").checked,
      WEB_FETCH_FILTER_LIST: list(field(forms.retrieval, "WEB_FETCH_FILTER_LIST").value),
    },
  }),
  showRetrieval,
  "File and web settings saved.",
);

for (const kind of ["openai", "ollama"]) {
  document.getElementById(`${kind}-add`).addEventListener("click", () => {
    const holder = document.getElementById(`${kind}-list`);
    const row = connectionRow(kind, holder.children.length, "", "");
    holder.append(row);
    row.querySelector("input").focus();
  });
}

try {
  await load();
  for (const form of Object.values(forms)) form.hidden = false;
  setStatus(status, "");
} catch (failure) {
  setStatus(status, "");
  showError(pageError, failure);
}
