// Model output as Markdown (GitHub flavour) made inert: rendered by marked, then sanitised by
// DOMPurify (no script, no event handlers, no styles, no embedded or remote content, links only
// to http, https and mailto, opening apart with no opener or referrer). The page's
// Content-Security-Policy stands behind this: even a script that got through could not run.
// Code blocks get a copy button, and highlighting once highlight.js is loaded; it is loaded on
// first need only (it is the largest file of the page).

const forbiddenTags = ["style", "script", "img", "picture", "source", "video", "audio", "iframe", "frame", "object", "embed",
                       "form", "input", "button", "textarea", "select", "option", "link", "meta", "base", "svg", "math", "template"];
let hooked = false;

function sanitizer() {
  const purify = window.DOMPurify;
  if (!hooked) {
    purify.addHook("afterSanitizeAttributes", (node) => {
      if (node.tagName === "A") {
        node.setAttribute("target", "_blank");
        node.setAttribute("rel", "noopener noreferrer");
      }
    });
    hooked = true;
  }
  return purify;
}

/** A fragment of sanitised HTML for `text`. */
export function renderMarkdown(text) {
  const html = window.marked.parse(text, { gfm: true, breaks: false, headerIds: false, mangle: false });
  const clean = sanitizer().sanitize(html, {
    FORBID_TAGS: forbiddenTags,
    FORBID_ATTR: ["style", "id", "name"],
    ALLOWED_URI_REGEXP: /^(?:https?:|mailto:|#)/i,
  });
  // A template's content is inert: parsing the sanitised text there runs and loads nothing.
  const template = document.createElement("template");
  template.innerHTML = clean;
  const fragment = template.content;
  for (const pre of fragment.querySelectorAll("pre")) {
    const wrapper = document.createElement("div");
    wrapper.className = "code";
    pre.replaceWith(wrapper);
    const copy = document.createElement("button");
    copy.type = "button";
    copy.className = "copy";
    copy.textContent = "Copy";
    copy.setAttribute("aria-label", "Copy this code");
    copy.addEventListener("click", async () => {
      try {
        await navigator.clipboard.writeText(pre.textContent);
        copy.textContent = "Copied";
      } catch {
        copy.textContent = "Copy failed";
      }
      setTimeout(() => { copy.textContent = "Copy"; }, 1500);
    });
    wrapper.append(copy, pre);
  }
  return fragment;
}

let highlighter = null;

/** Highlights the code blocks under `root`, loading highlight.js first if needed. */
export function highlightCode(root) {
  const blocks = [...root.querySelectorAll("pre code")];
  if (blocks.length === 0) return;
  highlighter ??= new Promise((resolve, reject) => {
    const script = document.createElement("script");
    script.src = new URL("./vendor/highlight.min.js", import.meta.url).href;
    script.onload = () => resolve(window.hljs);
    script.onerror = reject;
    document.head.append(script);
  });
  highlighter.then((hljs) => blocks.forEach((block) => hljs.highlightBlock(block))).catch(() => {});
}

/** The highlighting theme for `dark`. */
export function setCodeTheme(dark) {
  let link = document.getElementById("code-theme");
  if (!link) {
    link = document.createElement("link");
    link.id = "code-theme";
    link.rel = "stylesheet";
    document.head.append(link);
  }
  link.href = new URL(`./vendor/highlight-${dark ? "dark" : "light"}.css`, import.meta.url).href;
}
