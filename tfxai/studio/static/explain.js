// tfxai studio: explanation reports (tfxai explain) and video explanations (tfxai explain video).
// Overlays are shown at their own resolution; movies (mp4) are played frame by frame through the studio's
// OpenCV frame endpoint (browsers do not play OpenCV's mp4v), GIFs directly.
"use strict";
(function () {
  const ITEM = Studio.params.get("item");
  const page = document.getElementById("page");
  const file = (path) => `/files?${Studio.q(ITEM, { path })}`;

  async function start() {
    const data = await Studio.api(`/api/report?${Studio.q(ITEM)}`);
    document.getElementById("title").textContent = ITEM;
    page.replaceChildren();
    if (data.kind === "report") report(data); else video(data);
  }

  function report(data) {
    const acc = data.accuracy === null ? "no labels, so no accuracy" : `accuracy ${data.accuracy.toFixed(3)}`;
    page.append(Studio.el("p", {}, Studio.el("b", {}, `${data.images} images, ${data.labelled} labelled, ${acc}`), " · ",
      Studio.el("a", { href: file("index.html"), target: "_blank" }, "the report's own page"), " · ", Studio.el("a", { href: file("predictions.csv") }, "predictions.csv")));
    const filter = Studio.el("select", {}, Studio.el("option", { value: "all" }, "all images"), Studio.el("option", { value: "wrong" }, "wrong only"), Studio.el("option", { value: "unlabelled" }, "unlabelled only"));
    page.append(Studio.el("p", {}, Studio.el("label", {}, "Show ", filter), " ", Studio.el("span", { class: "note", id: "shown" })));
    const grid = Studio.el("div", { class: "grid" });
    page.append(grid);
    const render = () => {
      const rows = data.rows.filter((r) => filter.value === "all" || (filter.value === "wrong" ? r.correct === "0" : r.correct === ""));
      document.getElementById("shown").textContent = `${rows.length} of ${data.images} shown`;
      grid.replaceChildren(...rows.map((r) => Studio.el("figure", { class: r.correct === "0" ? "wrong" : "" },
        r.overlay ? Studio.el("img", { src: file(r.overlay), loading: "lazy", alt: r.image }) : "",
        Studio.el("figcaption", {}, `${r.image}: ${r.predicted} ${(+r.probability).toFixed(2)}${r.true ? ` (true ${r.true})` : ""}`))));
    };
    filter.addEventListener("change", render);
    render();
  }

  function video(data) {
    const s = data.summary;
    page.append(Studio.el("p", {}, Studio.el("b", {}, `${s.predicted} ${(+s.probability).toFixed(3)}`), ` over ${s.clips.length} clip(s) of ${s.video}`));
    s.clips.forEach((clip, i) => {
      const name = `clip${i + 1}`;
      page.append(Studio.el("h2", {}, `${name}: frames from ${clip.first_frame}, stride ${clip.stride}, predicted ${clip.predicted}`));
      if (data.files.includes(`${name}.png`)) page.append(Studio.el("div", { class: "grid" }, Studio.el("figure", {}, Studio.el("img", { src: file(`${name}.png`) }))));
      const movie = data.files.find((f) => f.startsWith(`${name}.`) && (f.endsWith(".mp4") || f.endsWith(".gif")));
      if (movie && movie.endsWith(".gif")) page.append(Studio.el("figure", {}, Studio.el("img", { src: file(movie) })));
      else if (movie) page.append(player(movie));
    });
  }

  function player(movie) {
    const canvas = Studio.el("canvas", { width: 320, height: 240 });
    const slider = Studio.el("input", { type: "range", min: 0, value: 0 });
    const label = Studio.el("span", { class: "note" });
    const button = Studio.el("button", {}, "play");
    const box = Studio.el("div", { class: "card" }, canvas, Studio.el("div", {}, button, " ", slider, " ", label));
    let info = null, frame = 0, playing = false;
    const show = async (f) => {
      frame = f;
      const image = await Studio.loadImage(`/api/frame.jpg?${Studio.q(ITEM, { file: movie, frame: f })}`);
      canvas.width = image.naturalWidth; canvas.height = image.naturalHeight;
      canvas.getContext("2d").drawImage(image, 0, 0);
      slider.value = f; label.textContent = `${movie} frame ${f + 1} / ${info.frame_count}`;
    };
    Studio.api(`/api/video?${Studio.q(ITEM, { file: movie })}`).then((i) => { info = i; slider.max = i.frame_count - 1; show(0); });
    slider.addEventListener("input", () => show(+slider.value));
    button.onclick = async () => {
      playing = !playing; button.textContent = playing ? "pause" : "play";
      while (playing) { await show((frame + 1) % info.frame_count); await new Promise((r) => setTimeout(r, 1000 / (info.fps || 8))); }
    };
    return box;
  }
  if (!ITEM) page.replaceChildren(Studio.el("p", { class: "bad" }, "no item: open this page from the studio home"));
  else start().catch((e) => page.replaceChildren(Studio.el("p", { class: "bad" }, e.message)));
})();
