// tfxai studio: shared helpers (plain JS, no build step). The token is in an HttpOnly cookie set on the first load.
"use strict";
const Studio = {
  params: new URLSearchParams(location.search),
  // fetch JSON; throws an Error carrying .status and the server's one-line message
  async api(path, options = {}) {
    const response = await fetch(path, Object.assign({ credentials: "same-origin", cache: "no-store" }, options));
    let data = null;
    try { data = await response.json(); } catch (e) { data = null; }
    if (!response.ok) {
      const error = new Error((data && data.error) || `${response.status} ${response.statusText}`);
      error.status = response.status;
      error.data = data;
      throw error;
    }
    return data;
  },
  putJSON(path, body) {
    return Studio.api(path, { method: "PUT", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
  },
  q(item, extra = {}) {
    const p = new URLSearchParams(Object.assign({ item }, extra));
    return p.toString();
  },
  el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (k === "class") node.className = v; else if (k.startsWith("on")) node.addEventListener(k.slice(2), v); else node.setAttribute(k, v);
    }
    for (const child of children) node.append(child);
    return node;
  },
  loadImage(src) {
    return new Promise((resolve, reject) => {
      const image = new Image();
      image.onload = () => resolve(image);
      image.onerror = () => reject(new Error(`cannot load ${src}`));
      image.src = src;
    });
  },
  // true when a key event is typed into a form field (the page's shortcuts then stay out of the way)
  typing(event) {
    const t = event.target;
    return t && (t.tagName === "INPUT" && t.type !== "range" && t.type !== "checkbox" || t.tagName === "TEXTAREA" || t.tagName === "SELECT");
  },
  // app-time measure for the tests: the last action's duration in ms
  timings: [],
};
window.Studio = Studio;
