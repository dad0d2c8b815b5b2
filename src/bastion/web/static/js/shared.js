// The read-only view of a shared chat.
import { api } from "./api.js";
import { messageElement } from "./markdown.js";
import "./shell.js";

const section = document.getElementById("shared");
const status = document.getElementById("shared-status");

async function load() {
  try {
    const shared = await api.get(`/api/v1/chats/share/${encodeURIComponent(section.dataset.shareId)}`);
    document.getElementById("shared-title").textContent = shared.title || "Shared chat";
    const messages = Array.isArray(shared.chat?.messages) ? shared.chat.messages : [];
    document.getElementById("messages").replaceChildren(...messages.map(messageElement));
    status.textContent = messages.length ? "Read-only." : "This chat has no messages.";
  } catch (failure) {
    status.textContent = failure.status === 404 ? "This share link does not exist or was revoked." : failure.message;
    status.classList.add("error");
  }
}

load();
