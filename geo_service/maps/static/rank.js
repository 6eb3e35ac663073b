/* Suitability ranking on the map: "rank these sites" for one layer's sites under the current
   filters, with weighted criteria (attributes, raster statistics, distances) sent to
   POST /analysis/rank, and each criterion's contribution to every score shown, so the order
   can be explained. Built on the helpers map.js exposes as `siteMap.ui`. */
(() => {
  "use strict";
  const COLOURS = ["#2563eb", "#db2777", "#16a34a", "#ea580c", "#7c3aed", "#0891b2", "#ca8a04", "#475569"];

  document.addEventListener("sitemap:ready", () => {
    const ui = window.siteMap.ui;
    const { el, fill, pick, fmtNumber, config, state } = ui;
    const _ = window.i18n.gettext;
    const panel = el("aside", { id: "rank", hidden: true, "aria-live": "polite" });
    document.body.append(panel);
    const session = { layer: null, rows: [], result: null };

    /** Everything a layer's sites can be ranked by, each with a label in both languages. */
    function options(layer) {
      const found = [];
      for (const [name, f] of Object.entries(layer.fields)) {
        if ((f.type === "integer" || f.type === "number") && !f.codes && !name.endsWith("_code")) {
          found.push({ criterion: { type: "attribute", field: name }, direction: "higher", label: () => pick(f, "label") + (f.unit ? ` (${f.unit})` : "") });
        }
      }
      for (const raster of config.rasters) {
        found.push({ criterion: { type: "raster", raster: raster.id, stat: "mean" }, direction: "higher", label: () => _("{raster}: mean", { raster: pick(raster, "title") }) });
        if (raster.kind === "dem") {
          found.push({ criterion: { type: "raster", raster: `${raster.id}:slope`, stat: "mean" }, direction: "lower", label: () => _("Slope from {raster}: mean", { raster: pick(raster, "title") }) });
        }
      }
      for (const other of config.layers) {
        if (other.id === layer.id) continue;
        found.push({ criterion: { type: "distance", layer: other.id }, direction: "lower", label: () => _("Distance to the nearest {layer}", { layer: pick(other, "title") }) });
      }
      return found;
    }

    function open(layer) {
      if (session.layer !== layer) {
        const choices = options(layer);
        session.layer = layer;
        session.choices = choices;
        session.rows = choices.length ? [{ choice: 0, weight: 1, direction: choices[0].direction, min: "", max: "" }] : [];
        session.result = null;
      }
      panel.hidden = false;
      render();
    }

    function row(entry, index) {
      const choice = el("select", { class: "rank-choice", onchange: (e) => {
        entry.choice = Number(e.target.value);
        entry.direction = session.choices[entry.choice].direction;
        render();
      } }, ...session.choices.map((c, i) => el("option", { value: String(i), selected: i === entry.choice ? true : null, text: c.label() })));
      const number = (key, attrs) => el("input", Object.assign({ type: "number", step: "any", class: `rank-${key}`, value: entry[key], onchange: (e) => (entry[key] = e.target.value) }, attrs));
      return el("li", { class: "rank-row", style: `border-left-color:${COLOURS[index % COLOURS.length]}` },
        el("div", { class: "rank-line" }, choice,
          el("button", { type: "button", class: "btn small", title: _("Remove criterion"), onclick: () => { session.rows.splice(index, 1); render(); } }, "×")),
        el("div", { class: "rank-line" },
          el("label", {}, _("Weight"), " ", number("weight", { min: "0.1", step: "0.1" })),
          el("select", { class: "rank-direction", onchange: (e) => (entry.direction = e.target.value) },
            ...["higher", "lower"].map((d) => el("option", { value: d, selected: d === entry.direction ? true : null, text: d === "higher" ? _("higher is better") : _("lower is better") })))),
        el("div", { class: "rank-line" },
          number("min", { placeholder: _("min") }), "–", number("max", { placeholder: _("max") })),
      );
    }

    function render() {
      const layer = session.layer;
      if (!layer || panel.hidden) return;
      fill(panel,
        el("div", { class: "card-head" }, el("h2", { text: _("Ranking: {layer}", { layer: pick(layer, "title") }) }),
          el("button", { type: "button", class: "btn close", title: _("Close"), onclick: () => (panel.hidden = true) }, "×")),
        el("p", { class: "muted", text: _("The sites matching this layer's filters score 0–1 on each criterion (min–max normalised), times the criterion's share of the weights.") }),
        session.choices.length ? null : el("p", { text: _("This layer has no numeric criteria to rank by.") }),
        el("ol", { class: "rank-criteria" }, ...session.rows.map(row)),
        el("div", { class: "card-actions" },
          session.choices.length ? el("button", { type: "button", class: "btn", onclick: () => {
            session.rows.push({ choice: 0, weight: 1, direction: session.choices[0].direction, min: "", max: "" });
            render();
          } }, el("i", { class: "fa-solid fa-plus" }), " ", _("Add a criterion")) : null,
          el("button", { type: "button", class: "btn primary", id: "rank-run", disabled: session.rows.length ? null : true, onclick: run },
            el("i", { class: "fa-solid fa-ranking-star" }), " ", _("Rank"))),
        session.result ? results(session.result) : null,
      );
    }

    function request() {
      const layer = session.layer;
      const candidates = { collection: layer.id, filter_lang: "cql2-text", limit: config.rank_limit };
      const filter = ui.layerFilter(layer);
      if (filter) candidates.filter = filter;
      if (state.q) candidates.q = state.q;
      if (state.inview) candidates.bbox = ui.viewBbox();
      const criteria = session.rows.map((entry) => {
        const choice = session.choices[entry.choice];
        const criterion = Object.assign({}, choice.criterion, { weight: Number(entry.weight) || 1, direction: entry.direction, label: choice.label() });
        if (entry.min !== "") criterion.min = Number(entry.min);
        if (entry.max !== "") criterion.max = Number(entry.max);
        return criterion;
      });
      return { candidates, criteria };
    }

    async function run() {
      const body = request();
      try {
        session.result = await ui.api("/analysis/rank", null, {
          method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
        });
        session.sent = body;
      } catch (error) {
        ui.showError(error);
        return;
      }
      render();
    }

    function results(result) {
      const layer = session.layer;
      const raw = (part) => (part.raw === null ? "–" : fmtNumber(part.raw));
      return el("div", { class: "rank-results" },
        el("p", { class: "total", text: _("{n} of {m} sites ranked", { n: fmtNumber(result.numberRanked), m: fmtNumber(result.numberMatched) }) }),
        el("ol", { id: "rank-sites" }, ...result.sites.map((site) => el("li", { "data-site": site.id },
          el("a", { href: "#", text: pick(site, "title") || site.id, onclick: (e) => { e.preventDefault(); ui.openCard(layer.id, site.id); } }),
          el("span", { class: "rank-score", text: ` ${_("score")} ${fmtNumber(site.score)}` }),
          el("div", { class: "rank-bar" }, ...site.criteria.map((part, i) => el("span", {
            style: `width:${(part.contribution * 100).toFixed(2)}%;background:${COLOURS[i % COLOURS.length]}`,
            title: `${result.criteria[i].name}: ${raw(part)} → ${fmtNumber(part.contribution)}`,
          }))),
        ))),
        result.excluded.length ? el("details", {}, el("summary", { text: _("Excluded ({n})", { n: result.excluded.length }) }),
          el("ul", {}, ...result.excluded.map((site) => el("li", { text: `${pick(site, "title") || site.id}: ${site.reasons.join("; ")}` })))) : null,
        el("div", { class: "exports" }, el("strong", { text: _("Download") + ": " }),
          ...["csv", "xlsx"].map((f) => el("button", { type: "button", class: "btn small", "data-format": f, onclick: () => download(f) }, f.toUpperCase()))),
      );
    }

    /** The same ranking as a file: a POST, so fetched and handed to the browser as a download. */
    async function download(format) {
      try {
        const response = await fetch(`/analysis/rank?f=${format}&lang=${state.lang}`, {
          method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(session.sent),
        });
        if (!response.ok) throw new Error((await response.json()).description);
        const link = el("a", { href: URL.createObjectURL(await response.blob()), download: `ranking-${session.layer.id}.${format}` });
        document.body.append(link);
        link.click();
        link.remove();
      } catch (error) {
        ui.showError(error);
      }
    }

    for (const layer of config.layers) {
      const section = document.querySelector(`details.layer-filters[data-layer="${layer.id}"]`);
      section.append(el("button", { type: "button", class: "btn small rank-open", "data-layer": layer.id, onclick: () => open(layer) },
        el("i", { class: "fa-solid fa-ranking-star" }), " ", el("span", {}, _("Rank these sites"))));
    }
  });
})();
