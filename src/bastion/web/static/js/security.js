// The security page: the authenticator app (QR code, confirmation, recovery codes shown
// once, turning it off) and passkeys (add by name, list, remove). Each change of factors
// signs the other sessions out; the answer carries this page's new session.
import { api, rememberCsrf } from "./api.js";
import { showError, toast } from "./shell.js";
import { confirmAction } from "./admin/confirm.js";
import { el, setStatus, when } from "./admin/dom.js";
import { createPasskey, passkeysAvailable } from "./passkeys.js";

const $ = (id) => document.getElementById(id);
let recoveryCodes = [];

function epoch(seconds) {
  return seconds ? when(new Date(seconds * 1000).toISOString()) : "never";
}

async function loadStatus() {
  try {
    const status = await api.get("/api/v1/auths/mfa");
    $("mfa-required").hidden = !(status.required && !status.totp && !status.passkey);
    $("totp-off").hidden = status.totp || !$("totp-setup").hidden;
    $("totp-disable-form").hidden = !status.totp;
    $("recovery-left").textContent = status.totp
      ? `${status.recovery_codes_left} recovery codes left. To turn the app off, give your password and a current code.`
      : "";
    setStatus($("totp-status"), status.totp ? "On: sign-in asks for a code from the app." : "Off.");
  } catch (failure) {
    setStatus($("totp-status"), "");
    showError($("totp-error"), failure);
  }
}

function showRecovery(codes) {
  recoveryCodes = codes;
  $("recovery-codes").replaceChildren(...codes.map((code) => el("li", {}, code)));
  $("recovery").hidden = false;
}

function bindTotp() {
  const error = $("totp-error");
  $("totp-start").addEventListener("click", async () => {
    try {
      const setup = await api.post("/api/v1/auths/mfa/totp/setup", {});
      // Shown as an image: an SVG in <img> runs no script and loads nothing.
      $("totp-qr").src = `data:image/svg+xml;base64,${btoa(setup.qr_svg)}`;
      $("totp-secret").textContent = setup.secret.replace(/(.{4})/g, "$1 ").trim();
      error.hidden = true;
      $("totp-off").hidden = true;
      $("totp-setup").hidden = false;
      $("totp-confirm-code").focus();
    } catch (failure) {
      showError(error, failure);
    }
  });
  $("totp-confirm-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const answer = rememberCsrf(
        await api.post("/api/v1/auths/mfa/totp/confirm", { code: $("totp-confirm-code").value }),
      );
      error.hidden = true;
      $("totp-setup").hidden = true;
      $("totp-confirm-form").reset();
      showRecovery(answer.recovery_codes);
      toast("Authenticator app on. Other sessions are signed out.");
      await loadStatus();
      $("recovery-copy").focus();
    } catch (failure) {
      showError(error, failure);
    }
  });
  $("totp-disable-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = event.target;
    try {
      rememberCsrf(
        await api.post("/api/v1/auths/mfa/totp/disable", {
          password: form.elements.password.value,
          code: form.elements.code.value,
        }),
      );
      error.hidden = true;
      form.reset();
      $("recovery").hidden = true;
      toast("Authenticator app off. Other sessions are signed out.");
      await loadStatus();
    } catch (failure) {
      showError(error, failure);
    }
  });
  $("recovery-copy").addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(recoveryCodes.join("\n"));
      toast("Recovery codes copied.");
    } catch {
      toast("Select the codes and copy them (the clipboard is not available here).");
    }
  });
  $("recovery-download").addEventListener("click", () => {
    const text = `Recovery codes for ${window.location.host}\n\n${recoveryCodes.join("\n")}\n`;
    const url = URL.createObjectURL(new Blob([text], { type: "text/plain" }));
    const link = el("a", { href: url, download: "recovery-codes.txt" });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  });
}

function passkeyRow(passkey, reload) {
  const remove = el("button", { type: "button", className: "button small danger" }, "Remove");
  remove.setAttribute("aria-label", `Remove ${passkey.name}`);
  remove.addEventListener("click", async () => {
    if (!(await confirmAction(`Remove the passkey “${passkey.name}”?`, "Remove"))) return;
    try {
      rememberCsrf(await api.del(`/api/v1/auths/mfa/webauthn/credentials/${encodeURIComponent(passkey.id)}`));
      toast(`Passkey “${passkey.name}” removed.`);
    } catch (failure) {
      showError($("passkey-error"), failure);
    }
    await reload();
  });
  return el(
    "tr",
    { dataset: { passkeyId: passkey.id } },
    el("td", {}, passkey.name),
    el("td", {}, epoch(passkey.created_at)),
    el("td", {}, epoch(passkey.last_used_at)),
    el("td", {}, remove),
  );
}

function bindPasskeys() {
  const error = $("passkey-error");
  const status = $("passkeys-status");
  async function reload() {
    try {
      const passkeys = await api.get("/api/v1/auths/mfa/webauthn/credentials");
      $("passkeys-body").replaceChildren(...passkeys.map((passkey) => passkeyRow(passkey, reload)));
      $("passkeys-table").hidden = passkeys.length === 0;
      setStatus(status, passkeys.length ? "" : "No passkeys yet.");
    } catch (failure) {
      setStatus(status, "");
      showError(error, failure);
    }
    await loadStatus();
  }
  $("passkey-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!passkeysAvailable()) {
      showError(error, "This browser cannot use passkeys.");
      return;
    }
    const name = $("passkey-name").value;
    try {
      const begun = await api.post("/api/v1/auths/mfa/webauthn/register/options", {});
      const credential = await createPasskey(begun.options);
      rememberCsrf(
        await api.post("/api/v1/auths/mfa/webauthn/register/verify", {
          challenge_token: begun.challenge_token,
          name,
          credential,
        }),
      );
      error.hidden = true;
      toast(`Passkey “${name}” added. Other sessions are signed out.`);
    } catch (failure) {
      showError(error, failure);
    }
    await reload();
  });
  reload();
}

bindTotp();
bindPasskeys();
