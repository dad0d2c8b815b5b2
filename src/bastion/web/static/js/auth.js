// Sign in and sign up: errors in the API's words; pending accounts go to the waiting page.
// With a second factor, the password's answer is a one-time mfa_token and the second step
// (a code, a recovery code or a passkey) finishes the sign-in.
import { request, rememberCsrf } from "./api.js";
import { showError } from "./shell.js";
import { passkeysAvailable, usePasskey } from "./passkeys.js";

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
  const passkey = document.querySelector(".passkey-signin");
  if (passkey) passkey.hidden = tab.id !== "tab-signin";
}

for (const tab of document.querySelectorAll('[role="tab"]')) {
  tab.addEventListener("click", () => selectTab(tab));
}

function signedIn(user) {
  rememberCsrf(user);
  window.location.assign(user.role === "pending" ? "/pending" : nextPath());
}

const mfaForm = document.getElementById("mfa-form");
let mfaToken = null;

function secondStep(answer) {
  mfaToken = answer.mfa_token;
  for (const panel of document.querySelectorAll('[role="tabpanel"], .tabs, .passkey-signin')) panel.hidden = true;
  const codes = answer.methods.includes("totp");
  document.getElementById("mfa-code-fields").hidden = !codes;
  document.getElementById("mfa-hint").textContent = codes
    ? "Enter the code from your authenticator app, or one of your recovery codes."
    : "Confirm with your passkey.";
  document.getElementById("mfa-passkey").hidden = !answer.methods.includes("passkey");
  mfaForm.hidden = false;
  (codes ? mfaForm.elements.code : document.getElementById("mfa-passkey")).focus();
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
      const answer = await request("POST", path, body);
      if (answer.mfa_required) {
        button.disabled = false;
        secondStep(answer);
      } else {
        signedIn(answer);
      }
    } catch (failure) {
      showError(error, failure);
      button.disabled = false;
    }
  });
}

async function passkeyStep(path, extra) {
  const begun = await request("POST", `${path}/options`, extra);
  const credential = await usePasskey(begun.options);
  return request("POST", path, { ...extra, challenge_token: begun.challenge_token, credential });
}

function bindSecondStep() {
  const error = mfaForm.querySelector(".error");
  mfaForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.hidden = true;
    const button = mfaForm.querySelector('button[type="submit"]');
    button.disabled = true;
    try {
      signedIn(await request("POST", "/api/v1/auths/signin/mfa", {
        mfa_token: mfaToken,
        code: mfaForm.elements.code.value,
      }));
    } catch (failure) {
      showError(error, failure);
      mfaForm.elements.code.select();
      button.disabled = false;
    }
  });
  document.getElementById("mfa-passkey").addEventListener("click", async () => {
    error.hidden = true;
    try {
      signedIn(await passkeyStep("/api/v1/auths/signin/webauthn", { mfa_token: mfaToken }));
    } catch (failure) {
      showError(error, failure);
    }
  });
  const passwordless = document.getElementById("passkey-signin");
  passwordless?.addEventListener("click", async () => {
    const failed = document.querySelector("#signin-form .error");
    failed.hidden = true;
    if (!passkeysAvailable()) {
      showError(failed, "This browser cannot use passkeys.");
      return;
    }
    try {
      signedIn(await passkeyStep("/api/v1/auths/signin/webauthn", {}));
    } catch (failure) {
      showError(failed, failure);
    }
  });
}

bindForm("signin-form", "/api/v1/auths/signin", ["email", "password"]);
bindForm("signup-form", "/api/v1/auths/signup", ["name", "email", "password"]);
bindSecondStep();
document.querySelector("form:not([hidden]) input")?.focus();
