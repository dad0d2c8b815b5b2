// Settings: the profile name and picture, the password, the sessions, and API keys (shown
// once when created; the form only for an account the permission features.api_keys allows).
import { api, rememberCsrf, session } from "./api.js";
import { showError, toast } from "./shell.js";
import { confirmAction } from "./admin/confirm.js";
import { el, setStatus, when } from "./admin/dom.js";
import { bindOwnSessions } from "./sessions.js";

const MAX_PICTURE_BYTES = 256 * 1024; // the server's limit, said before a useless upload
// The stored picture: the profile route sets name and picture together, so a new name
// sends it back unchanged.
let picture = "";

function showPicture(url) {
  picture = url || "";
  const image = document.getElementById("picture-image");
  image.hidden = !picture;
  if (picture) image.src = picture;
  else image.removeAttribute("src");
  document.getElementById("picture-none").hidden = Boolean(picture);
  document.getElementById("picture-remove").hidden = !picture;
}

function readAsDataUrl(file) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.addEventListener("load", () => resolve(reader.result));
    reader.addEventListener("error", () => reject(new Error("The file could not be read.")));
    reader.readAsDataURL(file);
  });
}

function bindPicture() {
  const input = document.getElementById("picture-file");
  const error = document.getElementById("picture-error");
  const name = document.getElementById("profile-name");
  async function save(url, done) {
    try {
      const user = await api.post("/api/v1/auths/update/profile", { name: name.value, profile_image_url: url });
      error.hidden = true;
      showPicture(user.profile_image_url); // what the server stored, not what was sent
      toast(done);
    } catch (failure) {
      showError(error, failure);
    }
  }
  input.addEventListener("change", async () => {
    const [file] = input.files;
    if (!file) return;
    try {
      if (file.size > MAX_PICTURE_BYTES) {
        throw new Error(`The picture is larger than 256 KiB (${Math.ceil(file.size / 1024)} KiB).`);
      }
      await save(await readAsDataUrl(file), "Picture saved.");
    } catch (failure) {
      showError(error, failure);
    } finally {
      input.value = "";
    }
  });
  document.getElementById("picture-remove").addEventListener("click", async () => {
    await save("", "Picture removed.");
    input.focus();
  });
  session()
    .then((user) => showPicture(user.profile_image_url))
    .catch((failure) => showError(error, failure));
}

function bindProfile() {
  const form = document.getElementById("profile-form");
  const error = document.getElementById("profile-error");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const user = await api.post("/api/v1/auths/update/profile", {
        name: form.elements.name.value,
        profile_image_url: picture,
      });
      error.hidden = true;
      form.elements.name.value = user.name;
      const shown = document.querySelector(".account-name");
      if (shown) shown.textContent = user.name;
      toast("Name saved.");
    } catch (failure) {
      showError(error, failure);
    }
  });
}

function bindPassword() {
  const form = document.getElementById("password-form");
  const error = document.getElementById("password-error");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const { password, new_password: fresh, confirm } = form.elements;
    if (fresh.value !== confirm.value) {
      showError(error, "The new password and its repetition differ.");
      return;
    }
    try {
      // Every session ends with the change; the answer is this page's new one.
      rememberCsrf(await api.post("/api/v1/auths/update/password", { password: password.value, new_password: fresh.value }));
      error.hidden = true;
      form.reset();
      toast("Password changed. Other sessions are signed out.");
    } catch (failure) {
      showError(error, failure);
    }
  });
}

function keyRow(key, reload) {
  const revoke = el("button", { type: "button", className: "button small danger" }, "Revoke");
  revoke.addEventListener("click", async () => {
    if (!(await confirmAction(`Revoke the key “${key.name}”? Programs using it stop working.`, "Revoke"))) return;
    try {
      await api.del(`/api/v1/auths/api_key/${encodeURIComponent(key.id)}`);
      toast(`Key “${key.name}” revoked.`);
    } catch (failure) {
      showError(document.getElementById("key-error"), failure);
    }
    await reload();
  });
  return el(
    "tr",
    { dataset: { keyId: key.id } },
    el("td", {}, key.name),
    el("td", { className: "mono" }, `${key.prefix}…`),
    el("td", { className: "mono" }, key.scopes.length ? key.scopes.join(", ") : "all"),
    el("td", {}, key.expires_at ? when(key.expires_at) : "never"),
    el("td", {}, key.last_used_at ? when(key.last_used_at) : "never"),
    el("td", {}, revoke),
  );
}

function bindKeys() {
  const form = document.getElementById("key-form");
  if (!form) return; // API keys are disabled on this server
  const error = document.getElementById("key-error");
  const status = document.getElementById("keys-status");
  const table = document.getElementById("keys-table");
  const body = document.getElementById("keys-body");
  const shown = document.getElementById("new-key");
  const value = document.getElementById("new-key-value");

  let allowed = false;

  async function reload() {
    try {
      const keys = await api.get("/api/v1/auths/api_key");
      body.replaceChildren(...keys.map((key) => keyRow(key, reload)));
      table.hidden = keys.length === 0;
      setStatus(status, keys.length || !allowed ? "" : "No API keys yet.");
    } catch (failure) {
      setStatus(status, "");
      showError(error, failure);
    }
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const days = form.elements.expires_in_days.value;
    const scopes = form.elements.scopes.value.split(",").map((part) => part.trim()).filter(Boolean);
    try {
      const created = await api.post("/api/v1/auths/api_key", {
        name: form.elements.name.value,
        expires_in_days: days ? Number(days) : null,
        scopes,
      });
      error.hidden = true;
      value.value = created.key;
      shown.hidden = false;
      value.select();
      await reload();
    } catch (failure) {
      showError(error, failure);
    }
  });
  document.getElementById("copy-key").addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(value.value);
      toast("Key copied.");
    } catch {
      value.select();
      toast("Select the key and copy it (the clipboard is not available here).");
    }
  });
  // The server refuses a new key without the permission; the page does not offer one.
  api
    .get("/api/v1/users/permissions")
    .then((permissions) => {
      allowed = permissions.features?.api_keys === true;
      document.getElementById("keys-create").hidden = !allowed;
      document.getElementById("keys-denied").hidden = allowed;
    })
    .catch((failure) => showError(error, failure))
    .finally(reload);
}

bindPicture();
bindProfile();
bindPassword();
bindOwnSessions();
bindKeys();
