// tfxai studio: the label and review pages (one script, data-mode="label" | "review" on <body>).
// Every edit is an operation (add / replace / delete / clear / reviewed) applied to the frame's boxes and saved
// at once with the version last read; when someone else changed the frame (409), the page re-reads it and
// applies the same operation again, so no edit is lost.
"use strict";
(function () {
  const MODE = document.body.dataset.mode;
  const ITEM = Studio.params.get("item");
  const COLORS = { hand: "rgb(0,220,0)", detector: "rgb(0,140,255)", framediff: "rgb(255,160,0)", held: "rgb(255,0,0)", edited: "rgb(255,0,255)" };
  const HANDLE = 7; // css px around an edge that grabs it
  const MIN_SIZE = 3; // frame px
  const canvas = document.getElementById("canvas");
  const ctx = canvas.getContext("2d");
  const wrap = document.getElementById("wrap");
  const statusBox = document.getElementById("status");

  const state = {
    meta: null, frame: 0, record: { boxes: [], reviewed: false, version: "" }, image: null, selected: null,
    classId: 0, zoom: 1, ox: 0, oy: 0, drag: null, playing: false, saving: Promise.resolve(), saveState: "",
    list: [], rows: new Map(), loadToken: 0,
  };
  const images = new Map(); // frame -> Promise<Image> (a few around the current frame)
  window.studioState = state; // for the browser tests

  // ---------- data ----------
  const frameUrl = (f) => `/api/frame.jpg?${Studio.q(ITEM, { frame: f })}`;
  function imageOf(f) {
    if (!images.has(f)) images.set(f, Studio.loadImage(frameUrl(f)));
    if (images.size > 24) images.delete(images.keys().next().value);
    return images.get(f);
  }
  const readFrame = (f) => Studio.api(`/api/labels/frame?${Studio.q(ITEM, { frame: f })}`);

  async function start() {
    if (!ITEM) { statusBox.innerHTML = '<span class="err">no item: open this page from the studio home</span>'; return; }
    state.meta = await Studio.api(`/api/labels?${Studio.q(ITEM)}`);
    document.getElementById("title").textContent = `${state.meta.name} · ${state.meta.video.width}×${state.meta.video.height}, ${state.meta.video.frame_count} frames`;
    const select = document.getElementById("class");
    state.meta.classes.forEach((name, i) => select.append(Studio.el("option", { value: i }, `${i + 1} ${name}`)));
    select.addEventListener("change", () => setClass(+select.value));
    for (const row of state.meta.frames) state.rows.set(row.frame, row);
    document.getElementById("goto").max = state.meta.video.frame_count - 1;
    resize();
    buildList();
    let first = +(Studio.params.get("frame") || (MODE === "review" && state.list.length ? state.list[0] : 0));
    await go(first);
  }

  async function go(f) {
    const n = state.meta.video.frame_count;
    f = Math.max(0, Math.min(n - 1, Math.round(f)));
    const t0 = performance.now();
    const token = ++state.loadToken;
    state.frame = f;
    document.getElementById("goto").value = f;
    try {
      const [record, image] = await Promise.all([readFrame(f), imageOf(f)]);
      if (token !== state.loadToken) return;
      remember(f, record);
      state.record = structuredClone(record);
      state.image = image;
      if (state.selected !== null && state.selected >= record.boxes.length) state.selected = null;
      if (MODE === "review") state.selected = record.boxes.length ? 0 : null;
      draw();
      markList();
      Studio.timings.push({ what: "go", ms: performance.now() - t0 });
    } catch (error) {
      showError(error);
    }
    for (const k of [1, 2, 3]) if (f + k < n) imageOf(f + k);
    if (MODE === "review") { const next = nextInList(1); if (next !== null) imageOf(next); }
  }

  // ---------- operations ----------
  const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);
  function apply(op, record) {
    const boxes = record.boxes.map((b) => Object.assign({}, b));
    let reviewed = record.reviewed;
    const find = (b) => boxes.findIndex((x) => same(x, b));
    if (op.type === "add") boxes.push(op.box);
    else if (op.type === "replace" || op.type === "delete") {
      const i = find(op.old);
      if (i < 0) return null; // the box is gone: nothing to apply the edit to
      if (op.type === "replace") boxes[i] = op.box; else boxes.splice(i, 1);
    } else if (op.type === "clear") boxes.length = 0;
    if (op.reviewed !== undefined) reviewed = op.reviewed;
    return { boxes, reviewed };
  }

  // apply locally at once, then save in order; on 409 re-read and re-apply
  function commit(op, frame = state.frame) {
    const local = apply(op, state.record);
    if (local && frame === state.frame && state.record.frame === frame) {
      state.record = Object.assign({}, state.record, local);
      draw();
    }
    setSave("saving…");
    const t0 = performance.now();
    state.saving = state.saving.then(async () => {
      let base = null;
      for (let attempt = 0; attempt < 5; attempt++) {
        try {
          const source = base || await lastSaved(frame);
          const next = apply(op, source);
          if (!next) { setSave("that box was changed by someone else: not applied", true); return; }
          const saved = await Studio.putJSON(`/api/labels/frame?${Studio.q(ITEM, { frame })}`, Object.assign(next, { version: source.version }));
          remember(frame, saved);
          if (frame === state.frame && !state.drag) { state.record = structuredClone(saved); draw(); }
          updateRow(frame, saved);
          setSave("saved");
          Studio.timings.push({ what: "save", ms: performance.now() - t0 });
          return;
        } catch (error) {
          if (error.status !== 409) { setSave(error.message, true); return; }
          base = await readFrame(frame); // someone else wrote the frame: apply the edit to theirs
          remember(frame, base);
        }
      }
      setSave("could not save after 5 tries (the frame keeps changing)", true);
    });
    return state.saving;
  }
  // the record last read or written per frame (the base the next operation applies to)
  const savedRecords = new Map();
  function remember(frame, record) { savedRecords.set(frame, record); if (savedRecords.size > 50) savedRecords.delete(savedRecords.keys().next().value); }
  async function lastSaved(frame) {
    if (savedRecords.has(frame)) return savedRecords.get(frame);
    const record = await readFrame(frame);
    remember(frame, record);
    return record;
  }

  // ---------- geometry ----------
  function scale() { return (canvas.width / state.meta.video.width) * state.zoom; }
  function toFrame(event) {
    const rect = canvas.getBoundingClientRect();
    const px = (event.clientX - rect.left) * (canvas.width / rect.width);
    const py = (event.clientY - rect.top) * (canvas.height / rect.height);
    return [px / scale() + state.ox, py / scale() + state.oy];
  }
  function cssPerFrame() { return scale() * canvas.getBoundingClientRect().width / canvas.width; }
  function hit(x, y) {
    const tol = HANDLE / cssPerFrame();
    let best = null;
    state.record.boxes.forEach((b, i) => {
      const [bx, by, bw, bh] = b.box;
      if (x < bx - tol || x > bx + bw + tol || y < by - tol || y > by + bh + tol) return;
      const edges = { l: Math.abs(x - bx) <= tol, r: Math.abs(x - bx - bw) <= tol, t: Math.abs(y - by) <= tol, b: Math.abs(y - by - bh) <= tol };
      const onEdge = edges.l || edges.r || edges.t || edges.b;
      const area = bw * bh;
      if (best === null || (onEdge && !best.onEdge) || (onEdge === best.onEdge && area < best.area)) best = { i, edges, onEdge, area };
    });
    return best;
  }
  function clamp(box) {
    const W = state.meta.video.width, H = state.meta.video.height;
    let [x, y, w, h] = box;
    w = Math.min(Math.max(w, 1), W); h = Math.min(Math.max(h, 1), H);
    x = Math.min(Math.max(x, 0), W - w); y = Math.min(Math.max(y, 0), H - h);
    return [x, y, w, h].map((v) => Math.round(v * 100) / 100);
  }
  function edgesBox(start, edges, dx, dy) {
    let [x, y, w, h] = start;
    let x1 = x + w, y1 = y + h;
    if (edges.l) x += dx; if (edges.r) x1 += dx; if (edges.t) y += dy; if (edges.b) y1 += dy;
    return clamp([Math.min(x, x1), Math.min(y, y1), Math.abs(x1 - x), Math.abs(y1 - y)]);
  }
  const editedSource = (b) => (MODE === "review" && b.source !== "hand" ? "edited" : MODE === "label" ? "hand" : b.source);

  // ---------- mouse ----------
  canvas.addEventListener("contextmenu", (e) => e.preventDefault());
  canvas.addEventListener("mousedown", (event) => {
    if (!state.image) return;
    event.preventDefault();
    canvas.focus();
    const [x, y] = toFrame(event);
    if (event.button === 1 || event.shiftKey) { state.drag = { kind: "pan", sx: event.clientX, sy: event.clientY, ox: state.ox, oy: state.oy }; return; }
    if (event.button !== 0) return;
    const found = hit(x, y);
    if (found) {
      state.selected = found.i;
      const box = state.record.boxes[found.i];
      state.drag = { kind: found.onEdge ? "resize" : "move", edges: found.onEdge ? found.edges : null, sx: x, sy: y, old: box, start: box.box.slice() };
    } else {
      state.selected = null;
      state.drag = { kind: "draw", sx: x, sy: y, x, y };
    }
    draw();
  });
  window.addEventListener("mousemove", (event) => {
    const drag = state.drag;
    if (!drag) return;
    if (drag.kind === "pan") {
      const s = cssPerFrame();
      state.ox = drag.ox - (event.clientX - drag.sx) / s; state.oy = drag.oy - (event.clientY - drag.sy) / s;
      limitPan(); draw(); return;
    }
    const [x, y] = toFrame(event);
    if (drag.kind === "draw") { drag.x = x; drag.y = y; }
    else if (drag.kind === "move") {
      const [bx, by, bw, bh] = drag.start;
      drag.box = clamp([bx + x - drag.sx, by + y - drag.sy, bw, bh]);
    } else drag.box = edgesBox(drag.start, drag.edges, x - drag.sx, y - drag.sy);
    if (drag.box) state.record.boxes[state.selected] = Object.assign({}, drag.old, { box: drag.box });
    draw();
  });
  window.addEventListener("mouseup", () => {
    const drag = state.drag;
    state.drag = null;
    if (!drag || drag.kind === "pan") return;
    if (drag.kind === "draw") {
      const W = state.meta.video.width, H = state.meta.video.height;
      const x0 = Math.max(0, Math.min(drag.sx, drag.x)), x1 = Math.min(W, Math.max(drag.sx, drag.x));
      const y0 = Math.max(0, Math.min(drag.sy, drag.y)), y1 = Math.min(H, Math.max(drag.sy, drag.y));
      if (x1 - x0 < MIN_SIZE || y1 - y0 < MIN_SIZE) { draw(); return; }
      const track = state.record.boxes.reduce((m, b) => Math.max(m, b.track), -1) + 1;
      const box = { box: clamp([x0, y0, x1 - x0, y1 - y0]), class: state.classId, track, source: "hand", score: null };
      state.selected = state.record.boxes.length;
      commit({ type: "add", box });
    } else if (drag.box && !same(drag.box, drag.start)) {
      const box = Object.assign({}, drag.old, { box: drag.box, source: editedSource(drag.old) });
      if (box.source !== drag.old.source) box.score = null;
      commit({ type: "replace", old: drag.old, box });
    } else draw();
  });
  canvas.addEventListener("wheel", (event) => {
    event.preventDefault();
    const [x, y] = toFrame(event);
    zoomAt(event.deltaY < 0 ? 1.25 : 0.8, x, y);
  }, { passive: false });

  function zoomAt(factor, x, y) {
    const old = scale();
    state.zoom = Math.max(1, Math.min(16, state.zoom * factor));
    const s = scale();
    state.ox = x - (x - state.ox) * old / s; state.oy = y - (y - state.oy) * old / s;
    limitPan(); draw();
  }
  function limitPan() {
    const s = scale();
    state.ox = Math.max(0, Math.min(state.meta.video.width - canvas.width / s, state.ox));
    state.oy = Math.max(0, Math.min(state.meta.video.height - canvas.height / s, state.oy));
    if (state.zoom === 1) { state.ox = 0; state.oy = 0; }
  }

  // ---------- keys ----------
  function setClass(c) {
    if (c < 0 || c >= state.meta.classes.length) return;
    state.classId = c;
    document.getElementById("class").value = c;
    const b = state.record.boxes[state.selected];
    if (b && b.class !== c) {
      const box = Object.assign({}, b, { class: c, source: editedSource(b) });
      if (box.source !== b.source) box.score = null;
      commit({ type: "replace", old: b, box });
    }
    draw();
  }
  function deleteSelected() {
    const b = state.record.boxes[state.selected];
    if (!b) return;
    state.selected = null;
    commit({ type: "delete", old: b });
  }
  const jump = () => Math.max(1, +document.getElementById("jump").value || 10);
  function nextInList(step) {
    const list = state.list;
    if (!list.length) return null;
    if (step > 0) { const n = list.find((f) => f > state.frame); return n === undefined ? null : n; }
    const before = list.filter((f) => f < state.frame); return before.length ? before[before.length - 1] : null;
  }
  function nextInOrder(step) {
    // review: the list is in its chosen order; step through that order
    const i = state.list.indexOf(state.frame);
    const j = i < 0 ? 0 : i + step;
    return j >= 0 && j < state.list.length ? state.list[j] : null;
  }

  document.addEventListener("keydown", (event) => {
    if (Studio.typing(event)) {
      if (event.key === "Enter" && event.target.id === "goto") { go(+event.target.value); canvas.focus(); }
      return;
    }
    const key = event.key;
    let handled = true;
    if (key === "Tab") {
      const n = state.record.boxes.length;
      state.selected = n ? (state.selected === null ? 0 : (state.selected + (event.shiftKey ? n - 1 : 1)) % n) : null;
      draw();
    } else if (key === "+" || key === "=") zoomAt(1.25, state.ox + canvas.width / scale() / 2, state.oy + canvas.height / scale() / 2);
    else if (key === "-") zoomAt(0.8, state.ox + canvas.width / scale() / 2, state.oy + canvas.height / scale() / 2);
    else if (key === "0") { state.zoom = 1; limitPan(); draw(); }
    else if (/^[1-9]$/.test(key)) setClass(+key - 1);
    else if (key === "Escape") { state.selected = null; draw(); }
    else if (MODE === "label") handled = labelKey(event);
    else handled = reviewKey(event);
    if (handled) event.preventDefault();
  });

  function labelKey(event) {
    const key = event.key;
    const f = state.frame;
    if (key === "ArrowRight" || key === "n") go(f + (event.shiftKey ? jump() : 1));
    else if (key === "ArrowLeft" || key === "p") go(f - (event.shiftKey ? jump() : 1));
    else if (key === "." || key === ">") go(f + jump());
    else if (key === "," || key === "<") go(f - jump());
    else if (key === "Home") go(0);
    else if (key === "End") go(state.meta.video.frame_count - 1);
    else if (key === "g") { const box = document.getElementById("goto"); box.focus(); box.select(); }
    else if (key === " ") togglePlay();
    else if (key === "]") { const n = nextInList(1); if (n !== null) go(n); }
    else if (key === "[") { const n = nextInList(-1); if (n !== null) go(n); }
    else if (key === "Delete" || key === "Backspace" || key === "x") deleteSelected();
    else return false;
    return true;
  }

  function reviewKey(event) {
    const key = event.key;
    if (key === " " || key === "Enter") keep();
    else if (event.shiftKey && key === "ArrowRight") go(state.frame + 1);
    else if (event.shiftKey && key === "ArrowLeft") go(state.frame - 1);
    else if (key === "ArrowRight" || key === "n") { const n = nextInOrder(1); if (n !== null) go(n); }
    else if (key === "ArrowLeft" || key === "p") { const n = nextInOrder(-1); if (n !== null) go(n); }
    else if (key === "d" || key === "Delete" || key === "Backspace") deleteSelected();
    else if (key === "x") { state.selected = null; commit({ type: "clear" }); }
    else if (key === "u") commit({ type: "none", reviewed: false });
    else return false;
    return true;
  }

  function keep() {
    const frame = state.frame;
    const next = nextInOrder(1);
    const saved = commit({ type: "none", reviewed: true }, frame);
    if (next !== null) go(next);
    return saved;
  }

  function togglePlay() {
    state.playing = !state.playing;
    const fps = state.meta.video.fps || 25;
    const step = async () => {
      if (!state.playing) return;
      const t0 = performance.now();
      if (state.frame >= state.meta.video.frame_count - 1) { state.playing = false; draw(); return; }
      await go(state.frame + 1);
      setTimeout(step, Math.max(0, 1000 / fps - (performance.now() - t0)));
    };
    step();
    draw();
  }

  // ---------- list ----------
  function priority(row) {
    const low = +document.getElementById("low")?.value || 0.5;
    let p = 0, why = [];
    if (row.broken) { p += 10; why.push("unreadable"); }
    if (row.sources.includes("held")) { p += 3; why.push("held"); }
    if (row.sources.includes("framediff")) { p += 2; why.push("frame diff"); }
    if (row.min_score !== null && row.min_score < low) { p += 2 * (1 - row.min_score); why.push(`score ${row.min_score.toFixed(2)}`); }
    if (row.jump > 0.5) { p += Math.min(row.jump, 3); why.push(`jump ${row.jump.toFixed(1)}`); }
    return { p, why };
  }
  function buildList() {
    const rows = [...state.rows.values()].sort((a, b) => a.frame - b.frame);
    let chosen;
    if (MODE === "label") chosen = rows.filter((r) => r.sources.includes("hand"));
    else {
      const filter = document.getElementById("filter").value;
      chosen = rows.filter((r) => {
        if (filter === "all") return true;
        if (filter === "todo") return !r.reviewed;
        if (filter === "look") return !r.reviewed && priority(r).p > 0;
        return r.sources.includes(filter);
      });
      if (document.getElementById("order").value === "priority") chosen.sort((a, b) => priority(b).p - priority(a).p || a.frame - b.frame);
      const done = rows.filter((r) => r.reviewed).length;
      document.getElementById("progress-text").innerHTML = `<b>${done}</b> of <b>${rows.length}</b> frames reviewed`;
      document.getElementById("progress-bar").style.width = `${rows.length ? (100 * done) / rows.length : 0}%`;
    }
    state.list = chosen.map((r) => r.frame);
    document.getElementById("count").textContent = `(${chosen.length})`;
    const ul = document.getElementById("frames");
    ul.replaceChildren(...chosen.slice(0, 2000).map((r) => {
      const why = MODE === "label" ? `${r.boxes} box${r.boxes === 1 ? "" : "es"}` : (priority(r).why.join(", ") || r.sources.join(", "));
      return Studio.el("li", { "data-frame": r.frame, class: r.reviewed && MODE === "review" ? "done" : "", onclick: () => go(r.frame) },
        Studio.el("span", {}, `frame ${r.frame}${r.reviewed && MODE === "review" ? " ✓" : ""}`), Studio.el("span", { class: "why" }, why));
    }));
    markList();
  }
  function markList() {
    for (const li of document.querySelectorAll("#frames li")) li.classList.toggle("current", +li.dataset.frame === state.frame);
    const current = document.querySelector("#frames li.current");
    if (current) current.scrollIntoView({ block: "nearest" });
  }
  function updateRow(frame, record) {
    const sources = [...new Set(record.boxes.map((b) => b.source))].sort();
    const scores = record.boxes.map((b) => b.score).filter((s) => s !== null && s !== undefined);
    const old = state.rows.get(frame) || { jump: 0 };
    state.rows.set(frame, { frame, boxes: record.boxes.length, sources, reviewed: record.reviewed, min_score: scores.length ? Math.min(...scores) : null, jump: old.jump, broken: false });
    if (MODE === "label") buildList();
    else {
      // keep the list as it is while reviewing (a kept frame stays in place, marked), refresh progress and marks
      const rows = [...state.rows.values()];
      const done = rows.filter((r) => r.reviewed).length;
      document.getElementById("progress-text").innerHTML = `<b>${done}</b> of <b>${rows.length}</b> frames reviewed`;
      document.getElementById("progress-bar").style.width = `${(100 * done) / rows.length}%`;
      const li = document.querySelector(`#frames li[data-frame="${frame}"]`);
      if (li) { li.classList.toggle("done", record.reviewed); li.firstChild.textContent = `frame ${frame}${record.reviewed ? " ✓" : ""}`; }
    }
  }
  if (MODE === "review") for (const id of ["filter", "order", "low"]) document.getElementById(id).addEventListener("change", () => { buildList(); canvas.focus(); });

  // ---------- drawing ----------
  function resize() {
    const W = state.meta.video.width, H = state.meta.video.height;
    const avail = [wrap.clientWidth - 8, wrap.clientHeight - 8];
    const s = Math.min(avail[0] / W, avail[1] / H);
    canvas.width = Math.max(64, Math.round(W * s)); canvas.height = Math.max(48, Math.round(H * s));
    limitPan();
  }
  window.addEventListener("resize", () => { if (state.meta) { resize(); draw(); } });

  function draw() {
    if (!state.meta) return;
    const s = scale();
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.fillStyle = "#000"; ctx.fillRect(0, 0, canvas.width, canvas.height);
    ctx.setTransform(s, 0, 0, s, -state.ox * s, -state.oy * s);
    ctx.imageSmoothingEnabled = state.zoom < 3;
    if (state.image) ctx.drawImage(state.image, 0, 0);
    const lw = 2 / s;
    state.record.boxes.forEach((b, i) => {
      const [x, y, w, h] = b.box;
      const color = COLORS[b.source] || "#fff";
      ctx.lineWidth = i === state.selected ? 2 * lw : lw;
      ctx.strokeStyle = color;
      ctx.setLineDash(i === state.selected ? [] : []);
      ctx.strokeRect(x, y, w, h);
      if (i === state.selected) {
        ctx.fillStyle = color;
        for (const [hx, hy] of [[x, y], [x + w, y], [x, y + h], [x + w, y + h]]) ctx.fillRect(hx - 3 / s, hy - 3 / s, 6 / s, 6 / s);
      }
      const name = state.meta.classes[b.class] ?? b.class;
      const text = `${name} ${b.source}${b.score !== null && b.score !== undefined ? " " + b.score.toFixed(2) : ""}`;
      ctx.font = `${12 / s}px sans-serif`;
      const tw = ctx.measureText(text).width;
      const ty = y > 16 / s ? y - 14 / s : y + h;
      ctx.fillStyle = "rgba(0,0,0,.6)"; ctx.fillRect(x, ty, tw + 6 / s, 14 / s);
      ctx.fillStyle = color; ctx.fillText(text, x + 3 / s, ty + 11 / s);
    });
    const d = state.drag;
    if (d && d.kind === "draw") {
      ctx.lineWidth = lw; ctx.strokeStyle = COLORS.hand; ctx.setLineDash([6 / s, 4 / s]);
      ctx.strokeRect(Math.min(d.sx, d.x), Math.min(d.sy, d.y), Math.abs(d.x - d.sx), Math.abs(d.y - d.sy));
      ctx.setLineDash([]);
    }
    document.getElementById("zoom-level").textContent = state.zoom > 1 ? `zoom ${state.zoom.toFixed(1)}×` : "";
    status();
  }

  function setSave(text, error = false) { state.saveState = error ? `<span class="err">${text.replace(/</g, "&lt;")}</span>` : text; status(); }
  function showError(error) { setSave(error.message, true); }
  function status() {
    const m = state.meta;
    const r = state.record;
    const cls = m.classes[state.classId];
    const parts = [`frame <b>${state.frame}</b> / ${m.video.frame_count - 1}`, `${r.boxes.length} box${r.boxes.length === 1 ? "" : "es"}`];
    if (MODE === "review") parts.push(r.reviewed ? "<b>reviewed</b>" : "not reviewed");
    else parts.push(`class <b>${cls}</b>`);
    if (state.playing) parts.push("playing");
    if (state.saveState) parts.push(state.saveState);
    statusBox.innerHTML = parts.join(" · ");
  }

  document.getElementById("prev").onclick = () => (MODE === "review" ? (nextInOrder(-1) !== null && go(nextInOrder(-1))) : go(state.frame - 1));
  document.getElementById("next").onclick = () => (MODE === "review" ? (nextInOrder(1) !== null && go(nextInOrder(1))) : go(state.frame + 1));
  document.getElementById("zoom-fit").onclick = () => { state.zoom = 1; limitPan(); draw(); };
  document.getElementById("goto").addEventListener("change", (e) => go(+e.target.value));
  canvas.tabIndex = 0;
  start().catch(showError);
  // for tests and scripts: wait until every save has reached the server
  window.studioIdle = () => state.saving;
})();
