// The read-only view of a shared chat: by its share link (/s/{share_id}) or shared with
// the reader by its owner (/shared/{chat_id}).
import { api } from "./api.js";
import { messageElement } from "./markdown.js";
import "./shell.js";

const section = document.getElementById("shared");
const status = document.getElementById("shared-status");
const { shareId, chatId } = section.dataset;
const path = shareId
  ? `/api/v1/chats/share/${encodeURIComponent(shareId)}`
  : `/api/v1/chats/shared/${encodeURIComponent(chatId)}`;
const gone = shareId
  ? "This share link does not exist or was revoked."
  : "This chat is not shared with you, or no longer exists.";

async function load() {
  try {
    const shared = await api.get(path);
    document.getElementById("shared-title").textContent = shared.title || "Shared chat";
    document.title = `${shared.title || "Shared chat"} · Bastion`;
    const messages = Array.isArray(shared.chat?.messages) ? shared.chat.messages : [];
    document.getElementById("messages").replaceChildren(...messages.map(messageElement));
    status.textContent = messages.length ? "Read-only." : "This chat has no messages.";
  } catch (failure) {
    status.textContent = failure.status === 404 ? gone : failure.message;
    status.classList.add("error");
  }
}

load();
