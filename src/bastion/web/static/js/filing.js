// How the open chat is filed: its tags (added and removed here) and its folder. Tag and
// folder names are the person's own text: they go in as text only.
import { api, request } from "./api.js";
import { el } from "./admin/dom.js";

const $ = (id) => document.getElementById(id);

export function createFiling({ onError, onChange }) {
  const els = {
    bar: $("chat-filing"),
    tags: $("chat-tags"),
    form: $("tag-form"),
    name: $("tag-name"),
    folder: $("chat-folder"),
    suggestions: $("tag-suggestions"),
  };
  const state = { chatId: null, tags: [], folderId: null, folders: [], asked: 0, shown: 0 };
  const path = () => `/api/v1/chats/${encodeURIComponent(state.chatId)}`;

  // Every answer about the tags is the chat's whole list. One asked for earlier than the
  // list on screen (the chat's load, answered after a tag added meanwhile), or about
  // another chat than the one open, is out of date and dropped.
  async function tagsFrom(call) {
    const chatId = state.chatId;
    const asked = ++state.asked;
    const tags = await call();
    if (chatId !== state.chatId || asked < state.shown) return;
    state.shown = asked;
    state.tags = tags;
    renderTags();
  }

  function renderTags() {
    els.tags.replaceChildren(
      ...state.tags.map((tag) => {
        const remove = el("button", { type: "button", className: "chat-tag-remove", "aria-label": `Remove tag ${tag.name}` }, "×");
        remove.addEventListener("click", async () => {
          try {
            await tagsFrom(() => request("DELETE", `${path()}/tags`, { name: tag.name }));
            els.name.focus();
            onChange();
          } catch (failure) {
            onError(failure);
          }
        });
        return el("li", { className: "chat-tag" }, el("span", {}, tag.name), remove);
      }),
    );
  }

  // Folders by their path ("Work / Taxes"), each once, in the order the API gave.
  function renderFolders() {
    const byId = new Map(state.folders.map((f) => [f.id, f]));
    const name = (folder, seen = new Set()) => {
      const parent = byId.get(folder.parent_id);
      if (!parent || seen.has(parent.id)) return folder.name;
      seen.add(folder.id);
      return `${name(parent, seen)} / ${folder.name}`;
    };
    els.folder.replaceChildren(
      new Option("No folder", ""),
      ...state.folders.map((folder) => new Option(name(folder), folder.id)),
    );
    els.folder.value = state.folderId && byId.has(state.folderId) ? state.folderId : "";
  }

  els.form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const name = els.name.value.trim();
    if (!name || state.chatId === null) return;
    try {
      await tagsFrom(() => api.post(`${path()}/tags`, { name }));
      els.form.reset();
      onChange();
    } catch (failure) {
      onError(failure);
    }
  });

  els.folder.addEventListener("change", async () => {
    const folderId = els.folder.value || null;
    try {
      const chat = await api.post(`${path()}/folder`, { folder_id: folderId });
      state.folderId = chat.folder_id;
      onChange();
    } catch (failure) {
      els.folder.value = state.folderId || "";
      onError(failure);
    }
  });

  return {
    // The chat just opened or created (null: none yet, nothing to file).
    async setChat(chat) {
      state.chatId = chat ? chat.id : null;
      state.folderId = chat ? chat.folder_id : null;
      els.bar.hidden = state.chatId === null;
      if (state.chatId === null) return;
      renderFolders();
      try {
        await tagsFrom(() => api.get(`${path()}/tags`));
      } catch (failure) {
        onError(failure);
      }
    },
    setFolders(folders) {
      state.folders = folders;
      if (state.chatId !== null) renderFolders();
    },
    // The person's tags, offered when adding one.
    setKnownTags(tags) {
      els.suggestions.replaceChildren(...tags.map((tag) => el("option", { value: tag.name })));
    },
  };
}
