// The chat page: models, streaming answers, editing or deleting one message, sharing and
// attachments; the sidebar (history.js) and the chat's tags and folder (filing.js).
import { api, request } from "./api.js";
import { el } from "./admin/dom.js";
import { createFiling } from "./filing.js";
import { createGrants, loadSharedWithMe } from "./grants.js";
import { createHistory } from "./history.js";
import { messageElement, renderMarkdown } from "./markdown.js";
import { armed, showError, toast } from "./shell.js";

const $ = (id) => document.getElementById(id);
const els = {
  section: $("chat"),
  model: $("model"),
  messages: $("messages"),
  empty: $("messages-empty"),
  prompt: $("prompt"),
  composer: $("composer"),
  send: $("send"),
  stop: $("stop"),
  regenerate: $("regenerate"),
  error: $("chat-error"),
  share: $("share"),
  sharePanel: $("share-panel"),
  shareLink: $("share-link"),
  attach: $("attach"),
  attachments: $("attachments"),
};

const state = {
  id: els.section.dataset.chatId || null,
  title: "",
  messages: [],
  files: [],
  shareId: null,
  controller: null,
  editing: null, // the id of the message whose text is being edited
};

const newId = () => crypto.randomUUID();

function setError(failure) {
  if (failure) showError(els.error, failure);
  else els.error.hidden = true;
}

function setStreaming(on) {
  // A message is not edited or deleted while an answer is on its way.
  els.messages.classList.toggle("busy", on);
  els.stop.hidden = !on;
  els.send.disabled = on;
  els.regenerate.hidden = on || !state.messages.some((m) => m.role === "assistant");
}

// --- one message: edit its text, or delete it ----------------------------------------

function replaceMessages(chat) {
  state.messages = Array.isArray(chat.chat?.messages) ? chat.chat.messages : [];
  state.editing = null;
  renderMessages();
}

const messagePath = (message) =>
  `/api/v1/chats/${encodeURIComponent(state.id)}/messages/${encodeURIComponent(message.id)}`;

function focusAction(label) {
  els.messages.querySelector(`button[aria-label="${CSS.escape(label)}"]`)?.focus();
}

function messageActions(message, n) {
  const edit = el("button", { type: "button", className: "icon-button", "aria-label": `Edit message ${n}` }, "Edit");
  edit.addEventListener("click", () => {
    if (state.controller) return;
    state.editing = message.id;
    renderMessages();
    els.messages.querySelector(".message-edit textarea")?.focus();
  });
  const remove = el("button", { type: "button", className: "icon-button", "aria-label": `Delete message ${n}` }, "Delete");
  armed(remove, "Delete", async () => {
    if (state.controller) return;
    try {
      replaceMessages(await api.del(messagePath(message)));
      els.prompt.focus();
    } catch (failure) {
      setError(failure);
    }
  });
  return el("div", { className: "message-actions" }, edit, remove);
}

function editForm(message, n) {
  const text = el("textarea", { rows: 4, "aria-label": `Text of message ${n}` });
  text.value = typeof message.content === "string" ? message.content : "";
  const cancel = el("button", { type: "button", className: "button secondary" }, "Cancel");
  const form = el("form", { className: "message-edit" }, text,
    el("div", { className: "dialog-actions" }, cancel, el("button", { type: "submit", className: "button" }, "Save")));
  const close = () => {
    state.editing = null;
    renderMessages();
    focusAction(`Edit message ${n}`);
  };
  cancel.addEventListener("click", close);
  text.addEventListener("keydown", (event) => {
    if (event.key === "Escape") {
      event.stopPropagation();
      close();
    }
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      replaceMessages(await api.post(messagePath(message), { content: text.value }));
      setError(null);
      focusAction(`Edit message ${n}`);
    } catch (failure) {
      setError(failure);
    }
  });
  return form;
}

function messageView(message, index) {
  const article = messageElement(message);
  // Only a stored chat's messages, each with its id, can be changed one by one.
  if (state.id === null || typeof message.id !== "string") return article;
  const n = index + 1;
  if (message.id === state.editing) {
    article.classList.add("editing");
    article.querySelector(".content").replaceWith(editForm(message, n));
  } else article.append(messageActions(message, n));
  return article;
}

function renderMessages() {
  els.empty.hidden = state.messages.length > 0;
  els.messages.replaceChildren(els.empty, ...state.messages.map(messageView));
  els.regenerate.hidden = state.controller !== null || !state.messages.some((m) => m.role === "assistant");
  els.share.disabled = state.id === null;
  grants.setEnabled(state.id !== null);
}

function renderAttachments() {
  els.attachments.replaceChildren(
    ...state.files.map((file) => {
      const item = document.createElement("li");
      const link = document.createElement("a");
      link.href = `/api/v1/files/${encodeURIComponent(file.id)}/content`;
      link.download = file.name;
      link.textContent = file.name;
      item.append(link);
      return item;
    }),
  );
}

function renderShare() {
  els.sharePanel.hidden = !state.shareId;
  if (state.shareId) els.shareLink.value = `${window.location.origin}/s/${state.shareId}`;
}

// The stored shape follows open-webui's: a flat list plus the history tree it keeps.
function chatBody() {
  const history = { messages: {}, currentId: null };
  let parentId = null;
  for (const message of state.messages) {
    history.messages[message.id] = { ...message, parentId, childrenIds: [] };
    if (parentId) history.messages[parentId].childrenIds.push(message.id);
    parentId = message.id;
  }
  history.currentId = parentId;
  return {
    title: state.title,
    models: [els.model.value].filter(Boolean),
    messages: state.messages,
    history,
    files: state.files,
  };
}

async function save() {
  if (state.id === null) {
    const created = await api.post("/api/v1/chats/new", { chat: chatBody(), title: state.title });
    state.id = created.id;
    window.history.replaceState(null, "", `/c/${encodeURIComponent(created.id)}`);
    filing.setChat(created);
  } else {
    await api.post(`/api/v1/chats/${encodeURIComponent(state.id)}`, { chat: chatBody() });
  }
  await sidebar.load();
}

const sidebar = createHistory({
  currentId: () => state.id,
  onError: setError,
  onRenamed: (title) => {
    state.title = title;
  },
  onFolders: (folders) => filing.setFolders(folders),
  onTags: (tags) => filing.setKnownTags(tags),
});

const filing = createFiling({
  onError: setError,
  onChange: () => Promise.all([sidebar.load(), sidebar.loadTags()]),
});

// --- models and the chat itself --------------------------------------------------

async function loadModels(preferred) {
  try {
    const answer = await api.get("/api/models");
    const models = answer.data || [];
    if (!models.length) {
      const option = new Option(answer.notice ? "No model (see notice)" : "No model available", "");
      els.model.replaceChildren(option);
      if (answer.notice) showError(els.error, answer.notice);
      return;
    }
    els.model.replaceChildren(...models.map((model) => new Option(model.name || model.id, model.id)));
    const remembered = preferred || localStorage.getItem("bastion.model");
    if (remembered && models.some((model) => model.id === remembered)) els.model.value = remembered;
  } catch (failure) {
    els.model.replaceChildren(new Option("Models could not be loaded", ""));
    setError(failure);
  }
}

async function loadChat() {
  if (state.id === null) return null;
  try {
    const chat = await api.get(`/api/v1/chats/${encodeURIComponent(state.id)}`);
    filing.setChat(chat);
    state.title = chat.title;
    state.messages = Array.isArray(chat.chat?.messages) ? chat.chat.messages : [];
    state.files = Array.isArray(chat.chat?.files) ? chat.chat.files : [];
    state.shareId = chat.share_id;
    document.title = `${chat.title} · Bastion`;
    return chat.chat?.models?.[0] || null;
  } catch (failure) {
    setError(failure);
    state.id = null;
    return null;
  }
}

// Reads an OpenAI-style event stream, calling onText with each piece of content.
async function readStream(response, onText) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let end;
    while ((end = buffer.indexOf("\n\n")) !== -1) {
      const event = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      for (const line of event.split("\n")) {
        if (!line.startsWith("data:")) continue;
        const data = line.slice(5).trim();
        if (data === "[DONE]") return;
        const chunk = JSON.parse(data);
        if (chunk.error) throw new Error(chunk.error.message || "The model failed.");
        const text = chunk.choices?.[0]?.delta?.content;
        if (text) onText(text);
      }
    }
  }
}

async function answer() {
  const model = els.model.value;
  if (!model) {
    showError(els.error, "Pick a model first.");
    return;
  }
  localStorage.setItem("bastion.model", model);
  const reply = { id: newId(), role: "assistant", content: "", model };
  const history = state.messages.map(({ role, content }) => ({ role, content }));
  const prompt = state.messages.findLast((m) => m.role === "user");
  state.messages.push(reply);
  renderMessages();
  const article = els.messages.lastElementChild;
  const content = article.querySelector(".content");
  article.classList.add("streaming");
  state.controller = new AbortController();
  setStreaming(true);
  try {
    const response = await request(
      "POST",
      "/api/chat/completions",
      {
        model,
        messages: history,
        stream: true,
        // open-webui's ids: the answer is stored in the chat under the prompt it answers.
        chat_id: state.id,
        id: reply.id,
        parent_id: prompt?.id,
      },
      { raw: true, signal: state.controller.signal },
    );
    await readStream(response, (text) => {
      reply.content += text;
      renderMarkdown(content, reply.content);
    });
  } catch (failure) {
    if (failure.name !== "AbortError") {
      article.classList.add("failed");
      setError(failure);
    }
  } finally {
    article.classList.remove("streaming");
    state.controller = null;
    setStreaming(false);
  }
  try {
    await save();
  } catch (failure) {
    setError(failure);
  }
}

async function send() {
  const text = els.prompt.value;
  if (!text.trim() || state.controller) return;
  setError(null);
  els.prompt.value = "";
  state.messages.push({ id: newId(), role: "user", content: text });
  if (!state.title) state.title = text.trim().split("\n")[0].slice(0, 80);
  renderMessages();
  if (state.id === null) {
    try {
      await save();
    } catch (failure) {
      setError(failure);
      return;
    }
  }
  await answer();
}

function stop() {
  state.controller?.abort();
}

async function regenerate() {
  if (state.controller) return;
  while (state.messages.length && state.messages.at(-1).role === "assistant") state.messages.pop();
  if (!state.messages.length) return;
  setError(null);
  await answer();
}

async function share() {
  try {
    const answer = await api.post(`/api/v1/chats/${encodeURIComponent(state.id)}/share`, {});
    state.shareId = answer.share_id;
    renderShare();
  } catch (failure) {
    setError(failure);
  }
}

async function revokeShare() {
  try {
    await api.del(`/api/v1/chats/${encodeURIComponent(state.id)}/share`);
    state.shareId = null;
    renderShare();
    toast("The share link no longer works.");
  } catch (failure) {
    setError(failure);
  }
}

async function attach() {
  const file = els.attach.files[0];
  if (!file) return;
  const form = new FormData();
  form.append("file", file);
  try {
    const record = await request("POST", "/api/v1/files/", form);
    state.files.push({ id: record.id, name: record.filename ?? file.name, type: "file" });
    renderAttachments();
    await save();
  } catch (failure) {
    setError(failure);
  } finally {
    els.attach.value = "";
  }
}

els.composer.addEventListener("submit", (event) => {
  event.preventDefault();
  send();
});
els.prompt.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    send();
  }
});
document.addEventListener("keydown", (event) => {
  if (event.key === "Escape" && state.controller) {
    event.preventDefault();
    stop();
  }
});
els.stop.addEventListener("click", stop);
els.regenerate.addEventListener("click", regenerate);
els.share.addEventListener("click", share);
$("share-revoke").addEventListener("click", revokeShare);
$("share-copy").addEventListener("click", async () => {
  try {
    await navigator.clipboard.writeText(els.shareLink.value);
    toast("Link copied.");
  } catch {
    els.shareLink.select();
    toast("Copy the selected link.");
  }
});
els.attach.addEventListener("change", attach);

const grants = createGrants({ chatId: () => state.id, isAdmin: els.section.dataset.admin === "true" });
const model = await loadChat();
renderMessages();
renderAttachments();
renderShare();
await Promise.all([loadModels(model), sidebar.load(), sidebar.loadFolders(), sidebar.loadTags(), loadSharedWithMe()]);
// Into the message box, unless the person has already gone somewhere else meanwhile.
if (document.activeElement === document.body || document.activeElement === null) els.prompt.focus();
// The first Markdown drawn on a page costs more (the parser's and the sanitiser's first
// run): pay it while the page is idle, not when an answer's first word arrives.
const whenIdle = window.requestIdleCallback ?? ((run) => setTimeout(run, 200));
whenIdle(() => renderMarkdown(document.createElement("div"), "*a* `b`\n\n```\nc\n```"));
