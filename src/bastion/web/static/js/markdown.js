// Model output is untrusted: Markdown becomes HTML through marked, then DOMPurify keeps
// only inert markup. Raw HTML in the answer is shown as the text it is: parsed as markup,
// even in DOMPurify's inert document, its event-handler attributes raise CSP violations
// (Chromium checks them while parsing), so an answer could fill the CSP reports at will.
// Images load nothing (a tracking pixel or a request to another site would otherwise
// leak that the answer was read): only data: images stay.
import DOMPurify from "../vendor/dompurify/purify.es.js";
import { marked } from "../vendor/marked/marked.esm.js";

const ESCAPES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
const escapeHtml = (text) => text.replace(/[&<>"']/g, (char) => ESCAPES[char]);

marked.use({ gfm: true, breaks: true, renderer: { html: ({ text }) => escapeHtml(text) } });

DOMPurify.addHook("afterSanitizeAttributes", (node) => {
  if (node.tagName === "IMG") {
    const src = node.getAttribute("src") || "";
    if (!/^data:image\/(png|gif|jpeg|webp);/i.test(src)) {
      node.replaceWith(document.createTextNode(node.getAttribute("alt") || ""));
    }
  } else if (node.tagName === "A" && node.hasAttribute("href")) {
    node.setAttribute("rel", "noopener noreferrer nofollow");
    node.setAttribute("target", "_blank");
  }
});

const PURIFY = {
  USE_PROFILES: { html: true },
  FORBID_TAGS: ["style", "form", "input", "button", "textarea", "select"],
  FORBID_ATTR: ["style"],
};

function addCopyButtons(root) {
  for (const pre of root.querySelectorAll("pre")) {
    const code = pre.querySelector("code") || pre;
    const button = document.createElement("button");
    button.type = "button";
    button.className = "icon-button copy";
    button.textContent = "Copy";
    button.setAttribute("aria-label", "Copy code");
    button.addEventListener("click", async () => {
      try {
        await navigator.clipboard.writeText(code.textContent);
        button.textContent = "Copied";
      } catch {
        button.textContent = "Copy failed";
      }
      setTimeout(() => {
        button.textContent = "Copy";
      }, 2000);
    });
    pre.append(button);
  }
}

// Renders `text` as sanitised Markdown into `element`, replacing what it held.
export function renderMarkdown(element, text) {
  const fragment = DOMPurify.sanitize(marked.parse(text), { ...PURIFY, RETURN_DOM_FRAGMENT: true });
  addCopyButtons(fragment);
  element.replaceChildren(fragment);
}

// One message as an article: the role as text, the content as text (the person's own
// words) or as sanitised Markdown (a model's answer).
export function messageElement(message) {
  const article = document.createElement("article");
  article.className = `message ${message.role === "user" ? "user" : "assistant"}`;
  const role = document.createElement("div");
  role.className = "role";
  role.textContent = message.role === "user" ? "You" : message.model || "Assistant";
  const content = document.createElement("div");
  content.className = "content";
  if (message.role === "user") content.textContent = message.content;
  else renderMarkdown(content, message.content || "");
  article.append(role, content);
  return article;
}
