// The chat page's sidebar: the history (search, a tag filter, pinned and archived chats)
// and the folders chats are filed in. Names of chats, tags and folders are the person's
// own text: they go in as text only.
import { api } from "./api.js";
import { el } from "./admin/dom.js";
import { armed } from "./shell.js";

const $ = (id) => document.getElementById(id);

// open-webui's tag id: the name in lower case, "_" for spaces (as the API computes it).
export const tagId = (name) => name.replaceAll(" ", "_").toLowerCase();

function actionButton(text, name, onClick) {
  const button = el("button", { type: "button", className: "icon-button", "aria-label": `${text} ${name}` }, text);
  if (onClick) button.addEventListener("click", onClick);
  return button;
}

// renameForm(item, value, label, save): the row becomes one text field; Enter saves, Esc
// gives the row back.
function renameForm(item, value, label, save, cancel) {
  const input = el("input", { value, maxLength: 500, "aria-label": label });
  const form = el("form", { className: "rename-form" }, input);
  item.replaceChildren(form);
  input.focus();
  input.select();
  input.addEventListener("keydown", (event) => {
    if (event.key === "Escape") {
      event.stopPropagation();
      cancel();
    }
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (text) save(text);
  });
}

export function createHistory({ currentId, onError, onRenamed, onFolders, onTags }) {
  const els = {
    history: $("history"),
    status: $("history-status"),
    search: $("history-search"),
    archived: $("history-archived"),
    tag: $("history-tag"),
    foldersSection: $("folders-section"),
    heading: $("history-heading"),
    folders: $("folders"),
    folderNew: $("folder-new"),
    folderForm: $("folder-form"),
    folderName: $("folder-name"),
  };
  const state = { chats: [], folders: [], archived: false, request: 0 };

  const fail = (failure) => onError(failure);
  const grouped = () => !state.archived && !els.search.value.trim() && !els.tag.value;

  function chatItem(chat) {
    const current = chat.id === currentId();
    const item = el("li", { className: current ? "current" : "" });
    const link = el("a", { href: `/c/${encodeURIComponent(chat.id)}` }, chat.title || "New Chat");
    if (current) link.setAttribute("aria-current", "page");
    item.append(link);
    if (chat.pinned) {
      item.classList.add("pinned");
      item.append(el("span", { className: "pin-mark" }, "Pinned"));
    }
    const toggle = (action, label) =>
      actionButton(label, chat.title, async () => {
        try {
          await api.post(`/api/v1/chats/${encodeURIComponent(chat.id)}/${action}`, {});
          await load();
        } catch (failure) {
          fail(failure);
        }
      });
    const rename = actionButton("Rename", chat.title, () =>
      renameForm(item, chat.title, "New title", async (title) => {
        try {
          await api.post(`/api/v1/chats/${encodeURIComponent(chat.id)}`, { title });
          if (chat.id === currentId()) onRenamed(title);
          await load();
        } catch (failure) {
          fail(failure);
        }
      }, render),
    );
    const remove = actionButton("Delete", chat.title);
    armed(remove, "Delete", async () => {
      try {
        await api.del(`/api/v1/chats/${encodeURIComponent(chat.id)}`);
        if (chat.id === currentId()) window.location.assign("/");
        else await load();
      } catch (failure) {
        fail(failure);
      }
    });
    // A row of their own under the title: beside it, four buttons left it one letter.
    item.append(
      el(
        "span",
        { className: "history-actions" },
        toggle("pin", chat.pinned ? "Unpin" : "Pin"),
        toggle("archive", chat.archived ? "Unarchive" : "Archive"),
        rename,
        remove,
      ),
    );
    return item;
  }

  // Pinned chats first, each group newest first as the API answered.
  const ordered = (chats) => [...chats].sort((a, b) => Number(b.pinned) - Number(a.pinned));

  function folderItem(folder, inside) {
    const item = el("li", { className: "folder", dataset: { folderId: folder.id } });
    const chats = inside.chats.get(folder.id) || [];
    const children = state.folders.filter((f) => f.parent_id === folder.id);
    const toggle = el(
      "button",
      { type: "button", className: "folder-toggle", "aria-expanded": String(folder.is_expanded) },
      el("span", { className: "folder-name" }, folder.name),
      el("span", { className: "folder-count" }, `(${chats.length})`),
    );
    toggle.addEventListener("click", async () => {
      folder.is_expanded = !folder.is_expanded;
      render();
      document.querySelector(`[data-folder-id="${CSS.escape(folder.id)}"] .folder-toggle`)?.focus();
      try {
        await api.post(`/api/v1/folders/${encodeURIComponent(folder.id)}/update/expanded`, {
          is_expanded: folder.is_expanded,
        });
      } catch (failure) {
        fail(failure);
      }
    });
    const rename = actionButton("Rename folder", folder.name, () =>
      renameForm(item, folder.name, "New folder name", async (name) => {
        try {
          await api.post(`/api/v1/folders/${encodeURIComponent(folder.id)}/update`, { name });
          await loadFolders();
        } catch (failure) {
          fail(failure);
        }
      }, render),
    );
    // The chats in it stay, in no folder: a folder is only a way of filing them.
    const remove = actionButton("Delete folder", folder.name);
    armed(remove, "Delete folder", async () => {
      try {
        await api.del(`/api/v1/folders/${encodeURIComponent(folder.id)}?delete_contents=false`);
        await Promise.all([loadFolders(), load()]);
      } catch (failure) {
        fail(failure);
      }
    });
    item.append(toggle, el("span", { className: "history-actions" }, rename, remove));
    if (folder.is_expanded) {
      if (children.length) {
        item.append(
          el("ul", { className: "folders-list", "aria-label": `Folders in ${folder.name}` },
            ...children.map((child) => folderItem(child, inside))),
        );
      }
      const list = el("ul", { className: "history", "aria-label": `Chats in ${folder.name}` }, ...ordered(chats).map(chatItem));
      if (!chats.length) list.append(el("li", { className: "hint" }, "No chats in this folder."));
      item.append(list);
    }
    return item;
  }

  function render() {
    const known = new Set(state.folders.map((f) => f.id));
    const inside = { chats: new Map() };
    let loose = state.chats;
    if (grouped()) {
      loose = [];
      for (const chat of state.chats) {
        if (chat.folder_id && known.has(chat.folder_id)) {
          if (!inside.chats.has(chat.folder_id)) inside.chats.set(chat.folder_id, []);
          inside.chats.get(chat.folder_id).push(chat);
        } else loose.push(chat);
      }
    }
    els.foldersSection.hidden = !grouped();
    // Under the folders, the chats in none have a heading of their own.
    els.heading.hidden = state.chats.length === 0 || (grouped() && !loose.length);
    els.heading.textContent = state.archived ? "Archived chats" : "Chats";
    const top = state.folders.filter((f) => !f.parent_id || !known.has(f.parent_id));
    els.folders.replaceChildren(...top.map((folder) => folderItem(folder, inside)));
    els.history.replaceChildren(...ordered(loose).map(chatItem));
    els.status.hidden = state.chats.length > 0;
    if (els.search.value.trim()) els.status.textContent = "No chat matches.";
    else if (els.tag.value) els.status.textContent = "No chat has this tag.";
    else if (state.archived) els.status.textContent = "No archived chats.";
    else els.status.textContent = "No chats yet.";
  }

  function fetchChats() {
    const text = els.search.value.trim();
    const tag = els.tag.value;
    if (state.archived) return api.get("/api/v1/chats/archived?limit=500");
    if (text) return api.get(`/api/v1/chats/search?limit=500&text=${encodeURIComponent(text)}`);
    if (tag) return api.post("/api/v1/chats/tags", { name: tag, limit: 500 });
    return api.get("/api/v1/chats/?limit=500");
  }

  async function load() {
    // Only the answer to the latest request is shown: typing fast sends several.
    const request = ++state.request;
    try {
      const answer = await fetchChats();
      if (request !== state.request) return;
      const tag = els.tag.value;
      // A search and a tag at once: the search's chats that carry the tag.
      state.chats = tag && els.search.value.trim()
        ? answer.chats.filter((chat) => (chat.meta?.tags || []).includes(tagId(tag)))
        : answer.chats;
      render();
    } catch (failure) {
      if (request !== state.request) return;
      els.status.hidden = false;
      els.status.textContent = failure.message;
    }
  }

  async function loadFolders() {
    try {
      state.folders = await api.get("/api/v1/folders/");
      render();
      onFolders(state.folders);
    } catch (failure) {
      fail(failure);
    }
  }

  async function loadTags() {
    try {
      const tags = await api.get("/api/v1/chats/all/tags");
      const chosen = els.tag.value;
      els.tag.replaceChildren(new Option("All chats", ""), ...tags.map((tag) => new Option(tag.name, tag.name)));
      // A tag taken off its last chat is gone: the filter falls back to every chat.
      const still = tags.some((tag) => tag.name === chosen);
      els.tag.value = still ? chosen : "";
      if (chosen && !still) await load();
      onTags(tags);
    } catch (failure) {
      fail(failure);
    }
  }

  let searchTimer = null;
  els.search.addEventListener("input", () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(load, 250);
  });
  els.tag.addEventListener("change", load);
  els.archived.addEventListener("click", () => {
    state.archived = !state.archived;
    els.archived.setAttribute("aria-pressed", String(state.archived));
    els.archived.textContent = state.archived ? "All chats" : "Archived chats";
    els.search.disabled = state.archived;
    els.tag.disabled = state.archived;
    els.history.setAttribute("aria-label", state.archived ? "Archived chats" : "Chats");
    load();
  });
  els.folderNew.addEventListener("click", () => {
    els.folderForm.hidden = false;
    els.folderNew.setAttribute("aria-expanded", "true");
    els.folderName.focus();
  });
  const closeForm = () => {
    els.folderForm.reset();
    els.folderForm.hidden = true;
    els.folderNew.setAttribute("aria-expanded", "false");
    els.folderNew.focus();
  };
  $("folder-cancel").addEventListener("click", closeForm);
  els.folderName.addEventListener("keydown", (event) => {
    if (event.key === "Escape") closeForm();
  });
  els.folderForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const name = els.folderName.value.trim();
    if (!name) return;
    try {
      await api.post("/api/v1/folders/", { name });
      closeForm();
      await loadFolders();
    } catch (failure) {
      fail(failure);
    }
  });

  return { load, loadFolders, loadTags };
}
