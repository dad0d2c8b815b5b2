// Sign in and sign up: errors in the API's words; pending accounts go to the waiting page.
import { request, rememberCsrf } from "./api.js";
import { showError } from "./shell.js";

// Only a path of this site: "//evil.example" or "/\evil.example" would leave it.
function nextPath() {
  const next = new URLSearchParams(window.location.search).get("next");
  return next && /^\/(?![/\\])/.test(next) ? next : "/";
}

function selectTab(tab) {
  for (const other of document.querySelectorAll('[role="tab"]')) {
    const selected = other === tab;
    other.setAttribute("aria-selected", String(selected));
    document.getElementById(other.getAttribute("aria-controls")).hidden = !selected;
  }
}

for (const tab of document.querySelectorAll('[role="tab"]')) {
  tab.addEventListener("click", () => selectTab(tab));
}

function bindForm(id, path, fields) {
  const form = document.getElementById(id);
  if (!form) return;
  const error = form.querySelector(".error");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.hidden = true;
    const button = form.querySelector('button[type="submit"]');
    button.disabled = true;
    const body = Object.fromEntries(fields.map((name) => [name, form.elements[name].value]));
    try {
      const user = rememberCsrf(await request("POST", path, body));
      window.location.assign(user.role === "pending" ? "/pending" : nextPath());
    } catch (failure) {
      showError(error, failure);
      button.disabled = false;
    }
  });
}

bindForm("signin-form", "/api/v1/auths/signin", ["email", "password"]);
bindForm("signup-form", "/api/v1/auths/signup", ["name", "email", "password"]);
document.querySelector("form:not([hidden]) input")?.focus();
