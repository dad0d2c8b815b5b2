// The chat page: models, streaming answers, history, sharing and attachments.
import { api, request } from "./api.js";
import { messageElement, renderMarkdown } from "./markdown.js";
import { showError, toast } from "./shell.js";

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
  history: $("history"),
  historyStatus: $("history-status"),
  search: $("history-search"),
  archived: $("history-archived"),
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
  chats: [],
  archived: false, // the sidebar lists the archived chats instead of the others
  historyRequest: 0,
  controller: null,
};

const newId = () => crypto.randomUUID();

function setError(failure) {
  if (failure) showError(els.error, failure);
  else els.error.hidden = true;
}

function setStreaming(on) {
  els.stop.hidden = !on;
  els.send.disabled = on;
  els.regenerate.hidden = on || !state.messages.some((m) => m.role === "assistant");
}

function renderMessages() {
  els.empty.hidden = state.messages.length > 0;
  els.messages.replaceChildren(els.empty, ...state.messages.map(messageElement));
  els.regenerate.hidden = state.controller !== null || !state.messages.some((m) => m.role === "assistant");
  els.share.disabled = state.id === null;
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
  } else {
    await api.post(`/api/v1/chats/${encodeURIComponent(state.id)}`, { chat: chatBody() });
  }
  await loadHistory();
}

// --- history sidebar -------------------------------------------------------------

function historyItem(chat) {
  const item = document.createElement("li");
  if (chat.id === state.id) item.classList.add("current");
  const link = document.createElement("a");
  link.href = `/c/${encodeURIComponent(chat.id)}`;
  link.textContent = chat.title || "New Chat";
  if (chat.id === state.id) link.setAttribute("aria-current", "page");
  const rename = document.createElement("button");
  rename.type = "button";
  rename.className = "icon-button";
  rename.textContent = "Rename";
  rename.setAttribute("aria-label", `Rename ${chat.title}`);
  rename.addEventListener("click", () => startRename(item, chat));
  const remove = document.createElement("button");
  remove.type = "button";
  remove.className = "icon-button";
  remove.textContent = "Delete";
  remove.setAttribute("aria-label", `Delete ${chat.title}`);
  remove.addEventListener("click", () => confirmDelete(remove, chat));
  const pin = flagButton(chat, "pin", chat.pinned ? "Unpin" : "Pin");
  const archive = flagButton(chat, "archive", chat.archived ? "Unarchive" : "Archive");
  if (chat.pinned) {
    item.classList.add("pinned");
    const mark = document.createElement("span");
    mark.className = "pin-mark";
    mark.textContent = "Pinned";
    item.append(mark);
  }
  item.prepend(link);
  // A row of their own under the title: beside it, four buttons left it one letter.
  const actions = document.createElement("span");
  actions.className = "history-actions";
  actions.append(pin, archive, rename, remove);
  item.append(actions);
  return item;
}

// Pin and archive are open-webui's toggles: the same call turns the flag back.
function flagButton(chat, action, label) {
  const button = document.createElement("button");
  button.type = "button";
  button.className = "icon-button";
  button.textContent = label;
  button.setAttribute("aria-label", `${label} ${chat.title}`);
  button.addEventListener("click", async () => {
    try {
      await api.post(`/api/v1/chats/${encodeURIComponent(chat.id)}/${action}`, {});
      await loadHistory();
    } catch (failure) {
      setError(failure);
    }
  });
  return button;
}

function startRename(item, chat) {
  const form = document.createElement("form");
  const input = document.createElement("input");
  input.value = chat.title;
  input.maxLength = 500;
  input.setAttribute("aria-label", "New title");
  form.append(input);
  item.replaceChildren(form);
  input.focus();
  input.select();
  input.addEventListener("keydown", (event) => {
    if (event.key === "Escape") {
      event.stopPropagation();
      renderHistory();
    }
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const title = input.value.trim();
    if (!title) return;
    try {
      await api.post(`/api/v1/chats/${encodeURIComponent(chat.id)}`, { title });
      if (chat.id === state.id) state.title = title;
      await loadHistory();
    } catch (failure) {
      setError(failure);
    }
  });
}

function confirmDelete(button, chat) {
  if (button.dataset.armed !== "true") {
    button.dataset.armed = "true";
    button.textContent = "Confirm delete";
    setTimeout(() => {
      button.dataset.armed = "false";
      button.textContent = "Delete";
    }, 5000);
    return;
  }
  api
    .del(`/api/v1/chats/${encodeURIComponent(chat.id)}`)
    .then(() => {
      if (chat.id === state.id) window.location.assign("/");
      else return loadHistory();
    })
    .catch(setError);
}

function renderHistory() {
  // Pinned chats first, each group newest first as the API answered.
  const shown = [...state.chats].sort((a, b) => Number(b.pinned) - Number(a.pinned));
  els.history.replaceChildren(...shown.map(historyItem));
  els.historyStatus.hidden = shown.length > 0;
  if (els.search.value.trim()) els.historyStatus.textContent = "No chat matches.";
  else if (state.archived) els.historyStatus.textContent = "No archived chats.";
  else els.historyStatus.textContent = "No chats yet.";
}

function historyPath() {
  const text = els.search.value.trim();
  if (state.archived) return "/api/v1/chats/archived?limit=500";
  if (text) return `/api/v1/chats/search?limit=500&text=${encodeURIComponent(text)}`;
  return "/api/v1/chats/?limit=500";
}

async function loadHistory() {
  // Only the answer to the latest request is shown: typing fast sends several.
  const request = ++state.historyRequest;
  try {
    const answer = await api.get(historyPath());
    if (request !== state.historyRequest) return;
    state.chats = answer.chats;
    renderHistory();
  } catch (failure) {
    if (request !== state.historyRequest) return;
    els.historyStatus.hidden = false;
    els.historyStatus.textContent = failure.message;
  }
}

let searchTimer = null;
function searchSoon() {
  clearTimeout(searchTimer);
  searchTimer = setTimeout(loadHistory, 250);
}

function toggleArchived() {
  state.archived = !state.archived;
  els.archived.setAttribute("aria-pressed", String(state.archived));
  els.archived.textContent = state.archived ? "All chats" : "Archived chats";
  els.search.disabled = state.archived;
  els.history.setAttribute("aria-label", state.archived ? "Archived chats" : "Chats");
  loadHistory();
}

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
els.search.addEventListener("input", searchSoon);
els.archived.addEventListener("click", toggleArchived);
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

const model = await loadChat();
renderMessages();
renderAttachments();
renderShare();
await Promise.all([loadModels(model), loadHistory()]);
els.prompt.focus();
