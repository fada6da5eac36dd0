// tfxai studio: edit attention maps (paint adds, erase removes; every stroke saved to edited/<name>).
// The map is kept at its own resolution in a Uint8Array (0..255); the brush stamps filled discs of `radius`
// map pixels along the stroke, as tfxai.attention.human.AttentionEditor does.
"use strict";
(function () {
  const ITEM = Studio.params.get("item");
  const canvas = document.getElementById("canvas");
  const ctx = canvas.getContext("2d");
  const statusBox = document.getElementById("status");
  const JET = jetTable();
  const state = { entries: [], index: 0, image: null, map: null, original: null, width: 0, height: 0, version: "",
                  undo: [], erasing: false, radius: 2, alpha: 0.5, mapOnly: false, stroke: null, saving: Promise.resolve(), saveState: "" };
  window.studioState = state;
  window.studioIdle = () => state.saving;

  function jetTable() { // OpenCV's COLORMAP_JET, RGB, 256 entries
    const t = new Uint8Array(256 * 3);
    for (let i = 0; i < 256; i++) {
      const v = i / 255;
      const r = Math.min(Math.max(1.5 - Math.abs(4 * v - 3), 0), 1), g = Math.min(Math.max(1.5 - Math.abs(4 * v - 2), 0), 1), b = Math.min(Math.max(1.5 - Math.abs(4 * v - 1), 0), 1);
      t[3 * i] = r * 255; t[3 * i + 1] = g * 255; t[3 * i + 2] = b * 255;
    }
    return t;
  }
  const fileUrl = (path) => `/files?${Studio.q(ITEM, { path })}&t=${Date.now()}`;
  async function grayOf(path, w, h) {
    const image = await Studio.loadImage(fileUrl(path));
    const c = document.createElement("canvas");
    c.width = image.naturalWidth; c.height = image.naturalHeight;
    const g = c.getContext("2d");
    g.drawImage(image, 0, 0);
    const rgba = g.getImageData(0, 0, c.width, c.height).data;
    const out = new Uint8Array(c.width * c.height);
    for (let i = 0; i < out.length; i++) out[i] = rgba[4 * i];
    return { data: out, width: c.width, height: c.height };
  }

  async function start() {
    const listing = await Studio.api(`/api/maps?${Studio.q(ITEM)}`);
    state.entries = listing.entries;
    window.classNames = listing.class_names;
    document.getElementById("count").textContent = `(${state.entries.length})`;
    document.getElementById("list").replaceChildren(...state.entries.map((e, i) => Studio.el("li", { "data-index": i, onclick: () => go(i) },
      Studio.el("span", {}, `${e.name} ${e.class_name || ""}`), Studio.el("span", { class: "why" }, e.has_edited ? "edited" : ""))));
    await go(+(Studio.params.get("index") || 0));
  }

  async function go(i) {
    if (i < 0 || i >= state.entries.length) return;
    await state.saving;
    state.index = i;
    const e = state.entries[i];
    const [image, original] = await Promise.all([Studio.loadImage(fileUrl(e.image || `images/${e.name}`)), grayOf(e.map || `maps/${e.name}`)]);
    const current = e.has_edited ? await grayOf(e.edited || `edited/${e.name}`) : original;
    state.image = image; state.original = original.data; state.width = original.width; state.height = original.height;
    state.map = current.width === original.width && current.height === original.height ? current.data.slice() : original.data.slice();
    state.version = e.version || ""; state.undo = [];
    const s = Math.max(1, Math.floor(Math.min(640 / state.width, 512 / state.height)));
    canvas.width = state.width * s; canvas.height = state.height * s;
    for (const li of document.querySelectorAll("#list li")) li.classList.toggle("current", +li.dataset.index === i);
    draw();
  }

  function draw() {
    const w = state.width, h = state.height;
    const small = document.createElement("canvas");
    small.width = w; small.height = h;
    const g = small.getContext("2d");
    g.drawImage(state.image, 0, 0, w, h);
    const pixels = g.getImageData(0, 0, w, h);
    const p = pixels.data, a = state.mapOnly ? 1 : state.alpha;
    for (let i = 0; i < w * h; i++) {
      const v = state.map[i];
      for (let c = 0; c < 3; c++) p[4 * i + c] = state.mapOnly ? v : Math.round((1 - a) * p[4 * i + c] + a * JET[3 * v + c]);
      p[4 * i + 3] = 255;
    }
    g.putImageData(pixels, 0, 0);
    ctx.imageSmoothingEnabled = false;
    ctx.drawImage(small, 0, 0, canvas.width, canvas.height);
    if (state.cursor) {
      const s = canvas.width / w;
      ctx.strokeStyle = state.erasing ? "#fff" : "#ff0"; ctx.lineWidth = 1;
      ctx.beginPath(); ctx.arc((state.cursor[0] + 0.5) * s, (state.cursor[1] + 0.5) * s, (state.radius + 0.5) * s, 0, 2 * Math.PI); ctx.stroke();
    }
    const e = state.entries[state.index];
    const changed = state.map.some((v, i) => v !== state.original[i]);
    statusBox.innerHTML = [`<b>${state.index + 1}</b> / ${state.entries.length} ${e.name}`,
      `true <b>${e.class_name ?? e.label}</b>, predicted ${e.predicted !== undefined ? ((window.classNames || [])[e.predicted] ?? e.predicted) : "?"} ${e.probability !== undefined ? e.probability.toFixed(2) : ""}`,
      state.erasing ? "<b>erase</b>" : "<b>paint</b>", `brush ${state.radius}`, changed ? "edited" : "network's map", state.saveState].filter(Boolean).join(" · ");
  }

  function toMap(event) {
    const r = canvas.getBoundingClientRect();
    return [Math.floor((event.clientX - r.left) / r.width * state.width), Math.floor((event.clientY - r.top) / r.height * state.height)];
  }
  function disc(cx, cy, value) {
    const r = state.radius;
    for (let y = Math.max(0, cy - r); y <= Math.min(state.height - 1, cy + r); y++)
      for (let x = Math.max(0, cx - r); x <= Math.min(state.width - 1, cx + r); x++)
        if ((x - cx) * (x - cx) + (y - cy) * (y - cy) <= r * r) state.map[y * state.width + x] = value;
  }
  function line(a, b, value) {
    const steps = Math.max(1, Math.ceil(2 * Math.hypot(b[0] - a[0], b[1] - a[1])));
    for (let k = 0; k <= steps; k++) disc(Math.round(a[0] + (b[0] - a[0]) * k / steps), Math.round(a[1] + (b[1] - a[1]) * k / steps), value);
  }
  canvas.addEventListener("contextmenu", (e) => e.preventDefault());
  canvas.addEventListener("mousedown", (event) => {
    event.preventDefault();
    const p = toMap(event);
    const value = event.button === 2 || state.erasing ? 0 : 255;
    state.undo.push(state.map.slice()); if (state.undo.length > 100) state.undo.shift();
    state.stroke = { last: p, value };
    disc(p[0], p[1], value); draw();
  });
  canvas.addEventListener("mousemove", (event) => {
    const p = toMap(event);
    state.cursor = p;
    if (state.stroke) { line(state.stroke.last, p, state.stroke.value); state.stroke.last = p; }
    draw();
  });
  canvas.addEventListener("mouseleave", () => { state.cursor = null; draw(); });
  window.addEventListener("mouseup", () => { if (state.stroke) { state.stroke = null; save(); } });

  function save() {
    const index = state.index, bytes = state.map.slice();
    const t0 = performance.now();
    state.saveState = "saving…"; draw();
    state.saving = state.saving.then(async () => {
      const e = state.entries[index];
      try {
        const saved = await Studio.api(`/api/maps/edited?${Studio.q(ITEM, { name: e.name, version: e.version || "" })}`,
          { method: "PUT", headers: { "Content-Type": "application/octet-stream" }, body: bytes });
        e.version = saved.version; e.has_edited = true;
        state.saveState = "saved";
        Studio.timings.push({ what: "save", ms: performance.now() - t0 });
      } catch (error) { state.saveState = `<span class="err">${error.message}</span>`; }
      markList(); draw();
    });
  }
  function reset() {
    state.undo.push(state.map.slice());
    state.map = state.original.slice();
    const index = state.index;
    state.saving = state.saving.then(async () => {
      const e = state.entries[index];
      try {
        await Studio.api(`/api/maps/edited?${Studio.q(ITEM, { name: e.name, version: e.version || "" })}`, { method: "DELETE" });
        e.version = ""; e.has_edited = false; state.saveState = "reset (no edit)";
      } catch (error) { state.saveState = `<span class="err">${error.message}</span>`; }
      markList(); draw();
    });
    draw();
  }
  function undo() { if (state.undo.length) { state.map = state.undo.pop(); save(); } }
  function markList() {
    for (const li of document.querySelectorAll("#list li")) li.lastChild.textContent = state.entries[+li.dataset.index].has_edited ? "edited" : "";
  }
  function setRadius(r) { state.radius = Math.max(0, Math.min(32, r)); document.getElementById("radius").value = state.radius; document.getElementById("radius-value").textContent = state.radius; draw(); }
  function setErase(on) { state.erasing = on; document.getElementById(on ? "erase" : "paint").checked = true; draw(); }

  document.addEventListener("keydown", (event) => {
    if (Studio.typing(event)) return;
    const k = event.key;
    if (k === "e") setErase(!state.erasing);
    else if (k === "]" || k === "+" || k === "=") setRadius(state.radius + 1);
    else if (k === "[" || k === "-") setRadius(state.radius - 1);
    else if (k === "u" || (k === "z" && (event.ctrlKey || event.metaKey))) undo();
    else if (k === "r") reset();
    else if (k === "ArrowRight" || k === "n" || k === " ") go(state.index + 1);
    else if (k === "ArrowLeft" || k === "p") go(state.index - 1);
    else if (k === "m") { state.mapOnly = !state.mapOnly; draw(); }
    else return;
    event.preventDefault();
  });
  document.getElementById("radius").addEventListener("input", (e) => setRadius(+e.target.value));
  document.getElementById("alpha").addEventListener("input", (e) => { state.alpha = +e.target.value / 100; draw(); });
  document.getElementById("paint").addEventListener("change", () => setErase(false));
  document.getElementById("erase").addEventListener("change", () => setErase(true));
  document.getElementById("undo").onclick = undo;
  document.getElementById("reset").onclick = reset;
  document.getElementById("prev").onclick = () => go(state.index - 1);
  document.getElementById("next").onclick = () => go(state.index + 1);
  start().catch((e) => { statusBox.innerHTML = `<span class="err">${e.message}</span>`; });
})();
