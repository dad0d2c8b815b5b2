// What every page shares: sign-out, the sidebar on narrow screens, short notices, and
// buttons that ask twice.
import { signOut } from "./api.js";

export function toast(message) {
  const box = document.getElementById("toast");
  if (!box) return;
  box.textContent = message;
  box.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => {
    box.hidden = true;
  }, 4000);
}

export function showError(element, error) {
  element.textContent = error instanceof Error ? error.message : String(error);
  element.hidden = false;
}

// A destructive button asks twice: the first press arms it for five seconds (and says
// so in the notice, which screen readers announce; the button keeps its name).
export function armed(button, label, action) {
  button.addEventListener("click", () => {
    if (button.dataset.armed !== "true") {
      button.dataset.armed = "true";
      button.textContent = "Confirm delete";
      toast("Press again to delete.");
      clearTimeout(button.disarm);
      button.disarm = setTimeout(() => {
        button.dataset.armed = "false";
        button.textContent = label;
      }, 5000);
      return;
    }
    clearTimeout(button.disarm);
    action();
  });
}

function bind() {
  document.getElementById("signout")?.addEventListener("click", () => signOut());
  const toggle = document.getElementById("sidebar-toggle");
  const sidebar = document.getElementById("sidebar");
  if (toggle && sidebar) {
    toggle.addEventListener("click", () => {
      const open = document.body.classList.toggle("sidebar-open");
      toggle.setAttribute("aria-expanded", String(open));
    });
  }
  // A page restored from the back-forward cache may be one signed out since: ask again.
  window.addEventListener("pageshow", (event) => {
    if (event.persisted && document.body.classList.contains("signed-in")) window.location.reload();
  });
}

bind();
