/* The investor map's behaviour over the live API.
 *
 * The page (built by Folium from a map definition) holds the Leaflet map, basemaps, controls and
 * one empty group per layer, plus a JSON config (#map-config). This script fills each group for
 * the current view and filters, draws the filter panel with facet counts, the site card and the
 * shortlist basket and keeps every choice in the URL. Its texts come from the page's catalogue
 * (`i18n.js`), in the language the page was asked in; the language menu links to the others.
 */
(function () {
  "use strict";

  /** A step's state as people read it (functions: the catalogue is read when they are called). */
  const STEP_STATES = { pending: () => _("Not started"), in_progress: () => _("In progress"), completed: () => _("Completed") };
  const SHAPES_ZOOM = 12; // from this zoom on, areas are drawn as shapes alone, without pins
  const FACT_FIELDS = [
    "free_land_ha", "lease_price_vnd_m2_year", "lease_term", "incentive_area", "power_capacity_mva",
    "water_capacity_m3_day", "wastewater_capacity_m3_day", "dist_national_road_km", "dist_airport_km",
    "dist_border_gate_km", "dist_hanoi_km", "completeness_pct",
  ]; // a site card lists these, each marked when missing, if its layer has them
  const CARD_HIDDEN = ["province_code", "commune_code", "source", "source_en", "facts_source", "distances_source"]; // shown otherwise
  const TIMELINE_FIELDS = ["schedule", "days_behind", "current_step", "steps_completed", "steps_total"]; // a project card's timeline shows them
  const EXPORTS = ["xlsx", "csv", "gpkg", "geojson", "kml", "pdf"];
  const BASKET_KEY = "geo-service.shortlist";

  const config = JSON.parse(document.getElementById("map-config").textContent);
  const layers = config.layers;
  const byId = Object.fromEntries(layers.map((l) => [l.id, l]));
  let map;
  const state = {
    lang: window.i18n.lang, q: "", province: "", commune: "", inview: false,
    filters: {}, visible: new Set(), rasters: new Set(), site: null, shortlist: null,
  };
  const runtime = { pending: 0, seq: {}, counts: {}, shortlist: null, card: null, cardParts: {}, tiles: {}, hover: null };
  const rasters = config.rasters;

  // -- small helpers ---------------------------------------------------------------------------
  const { gettext: _, pick, localized, locale } = window.i18n;
  const el = (tag, attrs, ...children) => {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else if (k === "text") node.textContent = v;
      // through the CSSOM: the page's Content-Security-Policy refuses inline style attributes
      else if (k === "style") node.style.cssText = v;
      else node.setAttribute(k, v === true ? "" : v);
    }
    for (const c of children.flat()) if (c !== null && c !== undefined) node.append(c);
    return node;
  };
  /** replaceChildren, skipping the null a conditional child leaves (it would print "null"). */
  const fill = (node, ...children) => node.replaceChildren(...children.flat().filter((c) => c !== null && c !== undefined));
  const fmtNumber = (v) => Number(v).toLocaleString(locale, { maximumFractionDigits: 2 });
  const quote = (v) => "'" + String(v).replace(/'/g, "''") + "'";
  const fieldLabel = (layer, name) => {
    const f = layer.fields[name];
    return f ? pick(f, "label") : name;
  };
  /** The language tag of a text (`label` by default) shown in a fallback language, for `lang`;
      null in the page's own. */
  const fallbackTag = (obj, stem = "label") => {
    const shown = localized(obj, stem)[1];
    return shown === state.lang ? null : window.i18n.tags[shown] || shown;
  };
  /** `fallbackTag` of a coded value's label; null for a value without a code list. */
  const valueTag = (layer, name, value) => {
    const f = layer.fields[name];
    return f && f.codes && f.codes[value] ? fallbackTag(f.codes[value]) : null;
  };
  /** A card's row: the field's label and its value, each marked with the language it is in. */
  const fieldRow = (layer, name, value, attrs) => {
    const f = layer.fields[name];
    return el("tr", attrs || {},
      el("th", { text: fieldLabel(layer, name), lang: f ? fallbackTag(f) : null }),
      value === undefined
        ? el("td", { text: _("no data yet") })
        : el("td", { text: valueLabel(layer, name, value), lang: valueTag(layer, name, value) }));
  };
  const valueLabel = (layer, name, value) => {
    const f = layer.fields[name];
    if (value === null || value === undefined || value === "") return "";
    if (f && f.codes && f.codes[value]) return pick(f.codes[value], "label");
    if (f && f.type === "integer" && /(^|_)year$/.test(name)) return String(value); // 2006, not 2,006
    if (f && f.unit === "km") return fmtKm(value);
    if (f && (f.type === "number" || f.type === "integer")) return fmtNumber(value) + (f.unit ? " " + f.unit : "");
    return String(value);
  };
  const featureName = (p) => pick(p, "name");
  const isNameField = (n) => /^name_[a-z]{2}$/.test(n);
  /** A layer's per-language names, which tooltips and cards pick from. */
  const nameFields = (layer) => Object.keys(layer.fields).filter(isNameField);
  /** A text that exists per language, in an element marked with the language it is shown in;
      one from a fallback says so, e.g. "(English)". */
  const localText = (tag, attrs, obj, stem) => {
    const [text, lang] = localized(obj, stem);
    if (lang === state.lang) return el(tag, Object.assign({ text }, attrs));
    return el(tag, attrs, el("span", { lang: window.i18n.tags[lang] || lang, text }), " ",
      el("small", { class: "fallback-lang", lang: window.i18n.tags[lang] || lang, text: `(${window.i18n.endonyms[lang] || lang})` }));
  };
  /** Kilometres with the precision a straight-line distance between indicative places has. */
  const fmtKm = (km) => Number(km).toLocaleString(locale, { maximumFractionDigits: km < 10 ? 1 : 0 }) + " km";
  const busy = (delta) => {
    runtime.pending += delta;
    document.body.dataset.mapState = runtime.pending > 0 ? "loading" : "idle";
  };
  async function api(path, params, options) {
    const url = path + (params && String(params) ? "?" + params : "");
    busy(1);
    try {
      // errors come back in the page's language
      const headers = Object.assign({ "Accept-Language": state.lang }, (options || {}).headers);
      const response = await fetch(url, Object.assign({}, options, { headers }));
      const body = response.headers.get("content-type")?.includes("json") ? await response.json() : null;
      if (!response.ok) {
        const error = new Error((body && body.description) || response.status + " " + response.statusText);
        error.refusal = body;  // its listed problems, for a form to mark its fields
        throw error;
      }
      return body;
    } finally {
      busy(-1);
    }
  }
  function showError(error) {
    if (error.name === "AbortError") return;
    // kept until closed (the view's own messages come and go): a person must be able to read it
    const box = document.getElementById("map-error");
    box.querySelector(".text").textContent = _("Could not load data: {msg}", { msg: error.message });
    box.hidden = false;
    console.warn(error);
  }

  // -- URL state ---------------------------------------------------------------------------
  function readUrl() {
    const p = new URLSearchParams(location.search);
    state.q = p.get("q") || "";
    state.province = p.get("province") || "";
    state.commune = p.get("commune") || "";
    state.inview = p.get("inview") === "1";
    state.site = p.get("site");
    state.shortlist = p.get("shortlist") || (loadBasket().id || null);
    state.visible = p.has("layers")
      ? new Set(p.get("layers").split(",").filter((id) => byId[id]))
      : new Set(layers.filter((l) => l.visible).map((l) => l.id));
    state.rasters = new Set((p.get("rasters") || "").split(",").filter((id) => rasters.some((r) => r.id === id)));
    state.filters = {};
    for (const [key, value] of p.entries()) {
      const m = /^(f|r)\.([^.]+)\.(.+)$/.exec(key);
      if (!m || !byId[m[2]] || !byId[m[2]].fields[m[3]]) continue;
      const entry = ((state.filters[m[2]] ||= {})[m[3]] ||= {});
      if (m[1] === "f") (entry.values ||= []).push(value);
      else {
        const [lo, hi] = value.split("..");
        if (lo) entry.min = lo;
        if (hi) entry.max = hi;
      }
    }
    const view = /^(\d+)\/(-?[\d.]+)\/(-?[\d.]+)$/.exec(p.get("map") || "");
    return view ? { zoom: +view[1], center: [+view[2], +view[3]] } : null;
  }
  function writeUrl(push) {
    const p = new URLSearchParams();
    p.set("lang", state.lang); // a shared address opens in the language it was shared in
    const c = map.getCenter();
    p.set("map", `${map.getZoom()}/${c.lat.toFixed(5)}/${c.lng.toFixed(5)}`);
    const defaults = layers.filter((l) => l.visible).map((l) => l.id).join(",");
    const visible = layers.filter((l) => state.visible.has(l.id)).map((l) => l.id).join(",");
    if (visible !== defaults) p.set("layers", visible);
    if (state.rasters.size) p.set("rasters", rasters.filter((r) => state.rasters.has(r.id)).map((r) => r.id).join(","));
    if (state.q) p.set("q", state.q);
    if (state.province) p.set("province", state.province);
    if (state.commune) p.set("commune", state.commune);
    if (state.inview) p.set("inview", "1");
    for (const [layerId, fields] of Object.entries(state.filters)) {
      for (const [name, entry] of Object.entries(fields)) {
        for (const v of entry.values || []) p.append(`f.${layerId}.${name}`, v);
        if (entry.min || entry.max) p.set(`r.${layerId}.${name}`, `${entry.min || ""}..${entry.max || ""}`);
      }
    }
    if (state.site) p.set("site", state.site);
    if (state.shortlist) p.set("shortlist", state.shortlist);
    const url = location.pathname + "?" + p.toString().replace(/%2F/g, "/").replace(/%2C/g, ",");
    document.querySelectorAll("#lang-menu a[data-lang]").forEach((a) => {
      const other = new URLSearchParams(p);
      other.set("lang", a.dataset.lang);
      a.href = location.pathname + "?" + other.toString();
    });
    if (url === location.pathname + location.search) return;
    if (push) history.pushState(null, "", url);
    else history.replaceState(null, "", url);
  }

  // -- queries -------------------------------------------------------------------------------
  function layerFilter(layer, except) {
    const parts = [];
    if (state.province && layer.fields.province_code) parts.push(`province_code = ${quote(state.province)}`);
    else if (config.shown_provinces.length && layer.fields.province_code) parts.push(`province_code IN (${config.shown_provinces.map(quote).join(", ")})`);
    if (state.commune && layer.fields.commune_code) parts.push(`commune_code = ${quote(state.commune)}`);
    for (const [name, entry] of Object.entries(state.filters[layer.id] || {})) {
      if (name === except) continue;
      const f = layer.fields[name];
      if (entry.values && entry.values.length) {
        const values = entry.values.map((v) => (f.type === "integer" || f.type === "number" ? Number(v) : quote(v)));
        parts.push(`${name} IN (${values.join(", ")})`);
      }
      const literal = (v) => (f.type === "date" ? `DATE(${quote(v)})` : Number(v));
      if (entry.min) parts.push(`${name} >= ${literal(entry.min)}`);
      if (entry.max) parts.push(`${name} <= ${literal(entry.max)}`);
    }
    return parts.join(" AND ");
  }
  function viewBbox() {
    const b = map.getBounds();
    const clamp = (v, lo, hi) => Math.min(hi, Math.max(lo, v));
    return [clamp(b.getWest(), -180, 180), clamp(b.getSouth(), -90, 90), clamp(b.getEast(), -180, 180), clamp(b.getNorth(), -90, 90)]
      .map((v) => v.toFixed(6)).join(",");
  }
  function queryParams(layer, options) {
    const p = new URLSearchParams();
    const filter = layerFilter(layer, options && options.except);
    if (filter) {
      p.set("filter", filter);
      p.set("filter-lang", "cql2-text");
    }
    if (state.q) p.set("q", state.q);
    if (options && options.bbox) p.set("bbox", options.bbox);
    return p;
  }
  const hasFilters = (layer) => Boolean(layerFilter(layer) || state.q);

  // -- drawing ---------------------------------------------------------------------------------
  function group(layer) {
    return window[layer.group];
  }
  function pinIcon(layer, extraClass) {
    return L.divIcon({
      className: "site-pin-wrap " + (extraClass || ""),
      html: el("span", { class: "site-pin", style: `background:${layer.color}` }, el("i", { class: `fa-solid fa-${layer.icon}` })),
      iconSize: [28, 28], iconAnchor: [14, 14],
    });
  }
  function tooltipHtml(layer, feature) {
    const p = feature.properties;
    const rows = layer.tooltip.map((n) => valueLabel(layer, n, p[n])).filter(Boolean);
    const div = el("div", {}, el("strong", { text: featureName(p) }), rows.length ? el("div", { text: rows.join(" · ") }) : null);
    return div.outerHTML;
  }
  function isSelected(layer, feature) {
    return state.site === `${layer.id}/${feature.id}`;
  }
  const PLACEHOLDER_DASH = "6 5";
  const isPlaceholder = (feature) => feature.properties.geometry_quality === "placeholder";
  let placeholderRenderer; // placeholders are SVG paths (dashed), the other shapes share the canvas
  function polygonStyle(layer, feature) {
    const selected = feature && isSelected(layer, feature);
    const placeholder = feature && isPlaceholder(feature);
    return {
      color: selected ? "#111827" : layer.color, weight: selected ? 4 : 2, fillColor: layer.color,
      fillOpacity: placeholder ? 0.1 : 0.3, dashArray: placeholder ? PLACEHOLDER_DASH : null,
    };
  }
  /** A keyboard handler for a focused marker (Leaflet gives markers focus, and Enter opens only
      popups): Enter or Space does what a click does. */
  function pressed(action) {
    return (e) => {
      if (e.originalEvent.key !== "Enter" && e.originalEvent.key !== " ") return;
      e.originalEvent.preventDefault();
      action();
    };
  }
  function drawFeatures(layer, collection) {
    const target = group(layer);
    placeholderRenderer ||= L.svg({ padding: 0.5 });
    const options = (placeholders) => ({
      filter: (f) => isPlaceholder(f) === placeholders,
      renderer: placeholders ? placeholderRenderer : undefined,
      style: (f) => polygonStyle(layer, f),
      pointToLayer: (f, latlng) => L.marker(latlng, { icon: pinIcon(layer), title: featureName(f.properties) }),
      onEachFeature: (f, item) => {
        item.bindTooltip(() => tooltipHtml(layer, f), { sticky: layer.geometry !== "point" });
        item.on("click", () => openCard(layer.id, f.id));
        item.on("keypress", pressed(() => openCard(layer.id, f.id)));
      },
    });
    const geo = L.geoJSON(collection, options(false));
    L.geoJSON(collection, options(true)).eachLayer((item) => geo.addLayer(item));
    target.clearLayers();
    if (target.addLayers) target.addLayers(geo.getLayers());
    else geo.eachLayer((item) => target.addLayer(item));
    if (layer.geometry !== "point" && map.getZoom() < SHAPES_ZOOM) {
      // a pin per area at zooms where the shapes are too small to see or click (each move redraws)
      geo.eachLayer((item) => {
        if (!item.getBounds) return; // a point of a layer of areas (a project not yet drawn as one) is its own pin
        const pin = L.marker(item.getBounds().getCenter(), { icon: pinIcon(layer, "area-pin"), title: featureName(item.feature.properties), siteId: item.feature.id });
        pin.on("click", () => openCard(layer.id, item.feature.id));
        pin.on("keypress", pressed(() => openCard(layer.id, item.feature.id)));
        target.addLayer(pin);
      });
    }
  }
  function drawCells(layer, grid) {
    const target = group(layer);
    target.clearLayers();
    const cells = grid.features.map((cell) => {
      const n = cell.properties.count;
      const size = Math.round(26 + Math.min(24, Math.log10(n + 1) * 8));
      const marker = L.marker([cell.geometry.coordinates[1], cell.geometry.coordinates[0]], {
        icon: L.divIcon({
          className: "grid-cell-wrap",
          html: el("span", {
            class: "grid-cell", text: n >= 10000 ? Math.round(n / 1000) + "k" : String(n),
            style: `border-color:${layer.color};width:${size}px;height:${size}px;line-height:${size - 4}px`,
          }),
          iconSize: [size, size],
        }),
        cell: true,
      });
      marker.bindTooltip(() => _("{n} sites — zoom in to see them", { n: fmtNumber(n) }));
      const [w, s, e, nb] = cell.bbox;
      marker.on("click", () => map.fitBounds([[s, w], [nb, e]]));
      return marker;
    });
    // cells go straight into the group: never into a cluster, which would count them as sites
    if (target.addLayers) cells.forEach((m) => L.FeatureGroup.prototype.addLayer.call(target, m));
    else cells.forEach((m) => target.addLayer(m));
  }
  /** The vector tiles' URL template of a layer: its filters, and the properties cards and
   * tooltips show (changing a filter changes the URL, and so every tile). */
  function tileUrl(layer) {
    const params = queryParams(layer);
    params.set("properties", [...nameFields(layer), ...layer.tooltip].join(","));
    return `/collections/${layer.id}/tiles/WebMercatorQuad/{z}/{x}/{y}?` + params;
  }
  /** Tiles of the current view (each would hold its share of the view's features). */
  function tilesInView() {
    const b = map.getPixelBounds();
    const across = Math.floor(b.max.x / 256) - Math.floor(b.min.x / 256) + 1;
    const down = Math.floor(b.max.y / 256) - Math.floor(b.min.y / 256) + 1;
    return across * down;
  }
  function tileStyle(layer, id) {
    const selected = state.site === `${layer.id}/${id}`;
    const line = { color: selected ? "#111827" : layer.color, weight: selected ? 4 : 1.5 };
    if (layer.geometry === "polygon") return { ...line, fill: true, fillColor: layer.color, fillOpacity: 0.3 };
    if (layer.geometry === "point") return { ...line, radius: 5, fill: true, fillColor: layer.color, fillOpacity: 0.8 };
    return line;
  }
  /** A layer too big for GeoJSON in this view drawn as vector tiles (Leaflet.VectorGrid): each
   * feature clickable like the others; kept across moves while its filters stay the same. */
  function drawTiles(layer) {
    const target = group(layer);
    const url = tileUrl(layer);
    const known = runtime.tiles[layer.id];
    if (known && known.url === url && target.hasLayer(known.grid)) return;
    const grid = L.vectorGrid.protobuf(url, {
      rendererFactory: L.svg.tile,
      interactive: true,
      maxNativeZoom: 24,
      getFeatureId: (f) => f.properties.id,
      vectorTileLayerStyles: { [layer.id]: (properties) => tileStyle(layer, properties.id) },
    });
    grid.on("click", (e) => openCard(layer.id, e.layer.properties.id));
    grid.on("mouseover", (e) => {
      runtime.hover = L.tooltip({ sticky: true }).setLatLng(e.latlng)
        .setContent(tooltipHtml(layer, { properties: e.layer.properties })).addTo(map);
    });
    grid.on("mouseout", () => runtime.hover && runtime.hover.remove());
    // the page is busy while the view's tiles load (what "idle" waits for), until removed
    let loading = false;
    grid.on("loading", () => {
      if (!loading) busy(1);
      loading = true;
    });
    grid.on("load remove", () => {
      if (loading) busy(-1);
      loading = false;
    });
    target.clearLayers();
    // straight into the group, never into a cluster (which takes markers alone)
    L.FeatureGroup.prototype.addLayer.call(target, grid);
    runtime.tiles[layer.id] = { url, grid };
  }
  async function drawLayer(layer) {
    const seq = (runtime.seq["draw:" + layer.id] || 0) + 1;
    runtime.seq["draw:" + layer.id] = seq;
    const target = group(layer);
    if (!state.visible.has(layer.id)) {
      target.clearLayers();
      return;
    }
    const bbox = viewBbox();
    busy(1);
    try {
      let cells = null;
      if (layer.total > config.max_features) {
        const size = map.getSize();
        const params = queryParams(layer, { bbox });
        params.set("columns", Math.max(1, Math.round(size.x / 80)));
        params.set("rows", Math.max(1, Math.round(size.y / 80)));
        cells = await api(`/collections/${layer.id}/grid`, params);
        if (cells.numberMatched <= config.max_features) cells = null;
      }
      // too many for GeoJSON: vector tiles, unless the tiles would be cut at their limit
      const tiled = cells && cells.numberMatched / tilesInView() <= config.tile_max_features;
      let data = null;
      if (!cells) {
        const params = queryParams(layer, { bbox });
        params.set("limit", config.max_features);
        params.set("properties", [...nameFields(layer), ...(layer.fields.geometry_quality ? ["geometry_quality"] : []), ...layer.tooltip].join(","));
        data = await api(`/collections/${layer.id}/items`, params);
      }
      if (runtime.seq["draw:" + layer.id] !== seq) return;
      if (tiled) drawTiles(layer);
      else if (cells) drawCells(layer, cells);
      else drawFeatures(layer, data);
      if (!tiled) delete runtime.tiles[layer.id];
      runtime.counts["view:" + layer.id] = cells ? cells.numberMatched : data.numberMatched;
      updateMessage();
    } catch (error) {
      showError(error);
    } finally {
      busy(-1);
    }
  }
  function updateMessage() {
    const box = document.getElementById("map-message");
    const gridded = layers.filter((l) => state.visible.has(l.id) && group(l).getLayers().some((m) => m.options.cell));
    box.hidden = gridded.length === 0;
    box.textContent = gridded.map((l) => _("{layer}: {n} sites in this view, shown per area; zoom in to see each site.", { layer: pick(l, "title"), n: fmtNumber(runtime.counts["view:" + l.id] || 0) })).join(" ");
  }

  // -- facets and counts -------------------------------------------------------------------
  async function updateFacets(layer) {
    const seq = (runtime.seq["facets:" + layer.id] || 0) + 1;
    runtime.seq["facets:" + layer.id] = seq;
    const bbox = state.inview ? viewBbox() : null;
    const active = layer.filters.filter((n) => {
      const e = (state.filters[layer.id] || {})[n];
      return e && ((e.values && e.values.length) || e.min || e.max);
    });
    const rest = layer.filters.filter((n) => !active.includes(n));
    const ask = (fields, except) => {
      const p = queryParams(layer, { bbox, except });
      p.set("fields", fields.join(","));
      p.set("lang", state.lang);
      return api(`/collections/${layer.id}/facets`, p);
    };
    try {
      // Each filtered field is counted with the other filters only (so its other values stay
      // visible with the counts they would give); the rest with every filter.
      const [all, ...own] = await Promise.all([
        ask(rest.length ? rest : [layer.filters[0] || (layer.fields.status ? "status" : "code")]),
        ...active.map((n) => ask([n], n)),
      ]);
      if (runtime.seq["facets:" + layer.id] !== seq) return;
      const facets = Object.assign({}, all.facets);
      own.forEach((r) => Object.assign(facets, r.facets));
      runtime.counts[layer.id] = all.numberMatched;
      renderFacets(layer, facets);
      renderCounts();
    } catch (error) {
      showError(error);
    }
  }
  function renderCounts() {
    let n = 0, m = 0;
    for (const layer of layers) {
      const matched = runtime.counts[layer.id];
      const text = matched === undefined ? "" : _("{n} of {m} sites", { n: fmtNumber(matched), m: fmtNumber(layer.total) });
      document.querySelectorAll(`[data-count="${layer.id}"]`).forEach((node) => (node.textContent = text));
      document.querySelectorAll(`.layer-count[data-layer="${layer.id}"]`).forEach((node) => (node.textContent = matched === undefined ? "" : ` (${fmtNumber(matched)})`));
      if (state.visible.has(layer.id) && matched !== undefined) {
        n += matched;
        m += layer.total;
      }
    }
    document.getElementById("total-count").textContent = _("{n} of {m} sites", { n: fmtNumber(n), m: fmtNumber(m) });
  }
  function renderFacets(layer, facets) {
    for (const name of layer.filters) {
      const box = document.querySelector(`[data-facet="${layer.id}.${name}"]`);
      const facet = facets[name];
      if (!box || !facet) continue;
      const entry = (state.filters[layer.id] || {})[name] || {};
      if (facet.values) {
        const values = facet.values.map((v) => [v.value, v.count]);
        for (const v of entry.values || []) if (!values.some(([x]) => String(x) === v)) values.push([v, 0]);
        fill(box, 
          ...(values.length ? values.map(([value, count]) =>
            el("label", { class: "facet-value" },
              el("input", {
                type: "checkbox", value: String(value), checked: (entry.values || []).includes(String(value)),
                "data-layer": layer.id, "data-field": name,
                onchange: (e) => toggleValue(layer.id, name, String(value), e.target.checked),
              }),
              el("span", { class: "facet-label", text: valueLabel(layer, name, value), lang: valueTag(layer, name, value) }),
              el("span", { class: "facet-n", text: fmtNumber(count) }),
            )) : [el("span", { class: "muted", text: _("No values") })]),
        );
      } else {
        const [lo, hi] = box.querySelectorAll("input");
        const show = (v) => (v === null || v === undefined ? "" : String(v));
        lo.placeholder = `${_("from")} ${show(facet.minimum)}`;
        hi.placeholder = `${_("to")} ${show(facet.maximum)}`;
      }
    }
  }
  function toggleValue(layerId, name, value, on) {
    const entry = ((state.filters[layerId] ||= {})[name] ||= {});
    const values = new Set(entry.values || []);
    if (on) values.add(value);
    else values.delete(value);
    entry.values = [...values];
    changed(layerId);
  }
  function setRange(layerId, name, which, value) {
    const entry = ((state.filters[layerId] ||= {})[name] ||= {});
    entry[which] = value || undefined;
    changed(layerId);
  }
  function changed(layerId) {
    writeUrl(true);
    const targets = layerId ? [byId[layerId]] : layers;
    for (const layer of targets) refreshLayer(layer);
  }
  function refreshLayer(layer) {
    drawLayer(layer);
    if (state.visible.has(layer.id)) updateFacets(layer);
    else {
      delete runtime.counts[layer.id];
      renderCounts();
    }
  }

  // -- page chrome -------------------------------------------------------------------------
  /** Links to this page in each language; `writeUrl` keeps their addresses the page's own. */
  function languageMenu() {
    return el("details", { id: "lang-menu", class: "lang-menu" },
      el("summary", { class: "btn", "aria-label": _("Language") + ": " + window.i18n.endonyms[state.lang] },
        el("i", { class: "fa-solid fa-language", "aria-hidden": "true" }), " ", el("span", { lang: window.i18n.tags[state.lang] }, window.i18n.endonyms[state.lang])),
      el("ul", {}, ...Object.entries(window.i18n.endonyms).map(([code, name]) => el("li", {},
        el("a", { href: "?lang=" + code, hreflang: window.i18n.tags[code], lang: window.i18n.tags[code], "data-lang": code,
          "aria-current": code === state.lang ? "true" : null }, name)))));
  }
  function buildChrome() {
    const mapDiv = document.getElementById(config.map);
    const header = el("header", { id: "map-header" },
      el("button", { id: "panel-toggle", type: "button", class: "btn", "aria-controls": "panel", "aria-expanded": "false", onclick: () => togglePanel() },
        el("i", { class: "fa-solid fa-filter", "aria-hidden": "true" }), " ", el("span", { class: "label" }, _("Filters"))),
      el("h1", { id: "map-title" }),
      el("span", { id: "total-count", class: "total", "aria-live": "polite" }),
      el("button", { id: "basket-toggle", type: "button", class: "btn", "aria-controls": "basket", "aria-expanded": "false", onclick: () => toggleAside("basket") },
        el("i", { class: "fa-solid fa-list-check", "aria-hidden": "true" }), " ", el("span", { class: "label" }, _("Shortlist")), " ", el("span", { id: "basket-count", class: "badge" }, "0")),
      languageMenu(),
    );
    const provinceSelect = el("select", { id: "province", onchange: (e) => { state.province = e.target.value; state.commune = ""; fillCommunes(); changed(); } },
      el("option", { value: "" }, _("All")), ...config.provinces.map((p) => el("option", { value: p.code, text: p.name })));
    const communeSelect = el("select", { id: "commune", onchange: (e) => { state.commune = e.target.value; changed(); } });
    let searchTimer;
    const panel = el("aside", { id: "panel", "aria-label": _("Filters") },
      el("div", { class: "panel-head" }, el("strong", {}, _("Filters")),
        el("button", { type: "button", class: "btn close", onclick: () => togglePanel(false), title: _("Close"), "aria-label": _("Close") }, "×")),
      el("input", { id: "search", type: "search", autocomplete: "off", "aria-label": _("Search names, communes… (accents optional)"), oninput: (e) => {
        clearTimeout(searchTimer);
        searchTimer = setTimeout(() => { state.q = e.target.value.trim(); changed(); }, 300);
      } }),
      el("div", { class: "places" },
        el("label", {}, _("Province"), provinceSelect),
        el("label", {}, _("Commune/ward"), communeSelect)),
      el("label", { class: "toggle" }, el("input", { id: "inview", type: "checkbox", onchange: (e) => { state.inview = e.target.checked; changed(); } }), _("Only in current view")),
      el("button", { id: "clear-filters", type: "button", class: "btn", onclick: clearFilters }, _("Clear filters")),
      ...layers.map(layerSection),
      el("p", { class: "muted hint" }, _("The page address always holds the view and filters: copy it to share.")),
    );
    const card = el("aside", { id: "card", hidden: true, "aria-labelledby": "card-title", tabindex: "-1" });
    const basket = el("aside", { id: "basket", hidden: true, "aria-label": _("Shortlist"), tabindex: "-1" });
    const message = el("div", { id: "map-message", hidden: true, role: "status" });
    const error = el("div", { id: "map-error", hidden: true, role: "alert" }, el("span", { class: "text" }),
      el("button", { type: "button", class: "btn close", title: _("Close"), "aria-label": _("Close"), onclick: () => (error.hidden = true) }, "×"));
    document.body.prepend(header);
    document.body.append(panel, card, basket);
    mapDiv.append(message, error);
    L.DomEvent.disableClickPropagation(message);
    L.DomEvent.disableClickPropagation(error);
  }
  function layerSection(layer) {
    return el("details", { class: "layer-filters", "data-layer": layer.id, open: layer.visible && layer.filters.length ? true : null },
      el("summary", {},
        el("span", { class: "swatch", style: `background:${layer.color}` }, el("i", { class: `fa-solid fa-${layer.icon}` })),
        localText("span", { class: "layer-title" }, layer, "title"),
        el("span", { class: "layer-n", "data-count": layer.id })),
      ...layer.filters.map((name) => {
        const f = layer.fields[name];
        const legend = el("legend", { "data-label": `${layer.id}.${name}` });
        if (f.codes || f.type === "string") return el("fieldset", {}, legend, el("div", { class: "facet-values", "data-facet": `${layer.id}.${name}` }));
        const type = f.type === "date" ? "date" : "number";
        const input = (which) => el("input", {
          type, step: "any", "data-layer": layer.id, "data-field": name, "data-range": which,
          "aria-label": `${fieldLabel(layer, name)}: ${which === "min" ? _("from") : _("to")}`,
          onchange: (e) => setRange(layer.id, name, which, e.target.value),
        });
        return el("fieldset", {}, legend, el("div", { class: "range", "data-facet": `${layer.id}.${name}` }, input("min"), el("span", {}, "–"), input("max")));
      }),
    );
  }
  function fillCommunes() {
    const select = document.getElementById("commune");
    const province = config.provinces.find((p) => p.code === state.province);
    fill(select, el("option", { value: "", text: _("All") }),
      ...(province ? province.communes.map(([code, name]) => el("option", { value: code, text: name })) : []));
    select.disabled = !province;
    select.value = state.commune;
  }
  function syncControls() {
    document.getElementById("search").value = state.q;
    document.getElementById("province").value = state.province;
    fillCommunes();
    document.getElementById("inview").checked = state.inview;
    document.querySelectorAll("input[data-range]").forEach((input) => {
      const entry = (state.filters[input.dataset.layer] || {})[input.dataset.field] || {};
      input.value = entry[input.dataset.range] || "";
    });
    for (const layer of layers) {
      const target = group(layer);
      if (state.visible.has(layer.id) && !map.hasLayer(target)) map.addLayer(target);
      if (!state.visible.has(layer.id) && map.hasLayer(target)) map.removeLayer(target);
    }
    for (const raster of rasters) {
      const overlay = window[raster.layer];
      if (state.rasters.has(raster.id) !== map.hasLayer(overlay)) map[state.rasters.has(raster.id) ? "addLayer" : "removeLayer"](overlay);
    }
    document.querySelectorAll(".leaflet-control-layers-selector").forEach((box) => {
      const label = box.parentElement;
      const layer = layers.find((l) => label && label.querySelector(`.layer-count[data-layer="${l.id}"]`));
      if (layer) box.checked = state.visible.has(layer.id);
      const raster = rasters.find((r) => label && label.querySelector(`[data-raster="${r.id}"]`));
      if (raster) box.checked = state.rasters.has(raster.id);
    });
  }
  function clearFilters() {
    state.filters = {};
    state.q = "";
    state.province = "";
    state.commune = "";
    syncControls();
    changed();
  }
  function applyLang() {
    document.title = pick(config, "title");
    document.getElementById("map-title").replaceWith(localText("h1", { id: "map-title" }, config, "title"));
    document.getElementById("search").placeholder = _("Search names, communes… (accents optional)");
    document.querySelectorAll("[data-label]").forEach((node) => {
      const [layerId, name] = node.dataset.label.split(".");
      const f = byId[layerId].fields[name];
      const [label, lang] = localized(f, "label");
      node.textContent = label + (f.unit ? ` (${f.unit})` : "");
      if (lang !== state.lang) node.lang = window.i18n.tags[lang] || lang; // read in its own language
    });
    const titles = {
      ".leaflet-control-zoom-in": _("Zoom in"), ".leaflet-control-zoom-out": _("Zoom out"), ".leaflet-control-locate a": _("Show my location"),
      ".basemap-toggle": _("Basemap"), ".overlay-toggle": _("Data layers"),
    };
    for (const [selector, title] of Object.entries(titles)) document.querySelectorAll(selector).forEach((n) => n.setAttribute("title", title));
    document.querySelectorAll(".leaflet-control-zoom-fullscreen").forEach((n) => n.setAttribute("title", map.isFullscreen && map.isFullscreen() ? _("Exit full screen") : _("Full screen")));
    fillCommunes();
    renderLegend();
    renderCounts();
    updateMessage();
  }
  let legendControl;
  function renderLegend() {
    if (!legendControl) {
      legendControl = L.control({ position: "bottomright" });
      legendControl.onAdd = () => {
        const div = L.DomUtil.create("div", "legend leaflet-bar");
        L.DomEvent.disableClickPropagation(div);
        return div;
      };
      legendControl.addTo(map);
    }
    const div = legendControl.getContainer();
    const shown = layers.filter((l) => state.visible.has(l.id));
    fill(div, 
      el("details", { open: window.innerWidth > 700 ? true : null },
        el("summary", { text: _("Legend") }),
        ...shown.map((l) => el("div", { class: "legend-row" },
          el("span", { class: "swatch", style: `background:${l.color}` }, el("i", { class: `fa-solid fa-${l.icon}` })),
          localText("span", { class: "legend-title" }, l, "title"))),
        shown.some((l) => l.geometry !== "point" && l.fields.geometry_quality)
          ? el("div", { class: "legend-row", id: "legend-placeholder" },
            el("span", { class: "swatch-placeholder", "aria-hidden": "true" }),
            el("span", { text: _("Placeholder shape: indicative place, gives no area") })) : null,
        ...rasters.filter((r) => state.rasters.has(r.id)).map(rasterLegend),
        el("div", { class: "muted", text: _("Locations and shapes are indicative") })),
    );
  }
  /** A raster's colour ramp between its value range, as the tiles draw it (linear, clamped). */
  function rasterLegend(raster) {
    const [lo, hi] = raster.value_range;
    const at = (v) => (((v - lo) / (hi - lo || 1)) * 100).toFixed(1);
    const ramp = raster.stops.map((s) => `${s.color} ${at(s.value)}%`).join(", ");
    const unit = raster.unit ? ` ${raster.unit}` : "";
    return el("div", { class: "legend-raster", "data-raster": raster.id },
      el("div", { text: pick(raster, "title"), lang: fallbackTag(raster, "title") }),
      el("div", { class: "ramp", style: `background: linear-gradient(to right, ${ramp})` }),
      el("div", { class: "ramp-labels" }, el("span", { text: fmtNumber(lo) + unit }), el("span", { text: fmtNumber(hi) + unit })),
      raster.derived_from ? el("div", { class: "muted", text: _("Derived data: {what}", { what: raster.derived_from }) }) : null);
  }
  function toggleAside(id, open) {
    const node = document.getElementById(id);
    node.hidden = open === undefined ? !node.hidden : !open;
    const toggle = document.getElementById(`${id}-toggle`);
    if (toggle) toggle.setAttribute("aria-expanded", String(!node.hidden));
    if (id === "basket" && !node.hidden) {
      renderBasket();
      node.focus();
    } else if (node.hidden && toggle) toggle.focus();
  }
  function togglePanel(open) {
    const isOpen = document.body.classList.toggle("panel-open", open);
    const toggle = document.getElementById("panel-toggle");
    toggle.setAttribute("aria-expanded", String(isOpen));
    if (isOpen) document.getElementById("search").focus();
    else toggle.focus();
  }
  /** Escape closes what is open on top: the card, then the shortlist, then the filter panel. */
  function onEscape(event) {
    if (event.key !== "Escape") return;
    const menu = document.getElementById("lang-menu");
    if (menu && menu.open) {
      menu.open = false;
      menu.querySelector("summary").focus();
    } else if (!document.getElementById("card").hidden) closeCard();
    else if (!document.getElementById("basket").hidden) toggleAside("basket", false);
    else if (document.body.classList.contains("panel-open")) togglePanel(false);
  }

  // -- site card -------------------------------------------------------------------------
  async function openCard(layerId, fid, push = true, centre = false) {
    const layer = byId[layerId];
    if (!layer) return;
    state.site = `${layerId}/${fid}`;
    // focus goes back where it came from when the card closes (a marker, a shortlist entry)
    const from = document.activeElement;
    runtime.opener = from && from !== document.body ? { element: from, site: from.classList.contains("leaflet-marker-icon") ? state.site : null } : null;
    if (push) writeUrl(true);
    restyle();
    try {
      const feature = await api(`/collections/${layerId}/items/${encodeURIComponent(fid)}`);
      if (state.site !== `${layerId}/${fid}`) return;
      runtime.card = [layer, feature];
      renderCard(layer, feature);
      if (centre) zoomToFeature(feature);
    } catch (error) {
      showError(error);
    }
  }
  function closeCard(push = true) {
    state.site = null;
    runtime.card = null;
    const card = document.getElementById("card");
    if (card.contains(document.activeElement) && runtime.opener) {
      // the marker may have been redrawn since (a pan, a refresh): its feature's marker now
      const { element, site } = runtime.opener;
      const target = document.contains(element) ? element : site && markerElement(...site.split(/\/(.*)/s).slice(0, 2));
      (target || document.getElementById(config.map)).focus();
    }
    card.hidden = true;
    restyle();
    if (push) writeUrl(true);
  }
  function restyle() {
    for (const layer of layers) {
      const tiles = runtime.tiles[layer.id];
      if (tiles) {
        // the selected feature stands out; the one selected before goes back to its style
        const id = state.site && state.site.startsWith(layer.id + "/") ? state.site.slice(layer.id.length + 1) : null;
        if (tiles.selected && tiles.selected !== id) tiles.grid.resetFeatureStyle(tiles.selected);
        if (id) tiles.grid.setFeatureStyle(id, tileStyle(layer, id));
        tiles.selected = id;
      }
      if (layer.geometry === "point") continue;
      group(layer).eachLayer((item) => item.feature && item.setStyle && item.setStyle(polygonStyle(layer, item.feature)));
    }
  }
  function renderCard(layer, feature) {
    const p = feature.properties;
    const card = document.getElementById("card");
    const quality = p.data_quality || layer.data_quality;
    const shown = (n) => p[n] !== null && p[n] !== undefined && p[n] !== "";
    const otherLanguage = (n) => {
      // of texts per language such as summary_vi / summary_en / summary_ja, the one in the page's
      // language, else its fallback
      const [, stem, lang] = /^(.*)_([a-z]{2})$/.exec(n) || [];
      return lang in window.i18n.endonyms && lang !== localized(p, stem)[1];
    };
    const facts = factNames(layer);
    const hidden = ["data_quality", ...CARD_HIDDEN, ...facts, ...(layer.projects ? TIMELINE_FIELDS : [])];
    const province = p.province_code && config.province_names[p.province_code];
    const rows = [
      province ? el("tr", {}, el("th", { text: _("Province") }), el("td", { text: province })) : null,
      ...Object.keys(layer.fields)
        // the date of the source is always said, or that it is not known
        .filter((n) => !hidden.includes(n) && !isNameField(n) && (shown(n) || n === "updated_at") && !otherLanguage(n))
        .map((n) => fieldRow(layer, n, shown(n) ? p[n] : undefined)),
    ];
    const inBasket = basketHas(layer.id, feature.id);
    const href = `/collections/${layer.id}/items/${encodeURIComponent(feature.id)}`;
    fill(card, 
      el("div", { class: "card-head" },
        el("span", { class: "swatch", style: `background:${layer.color}` }, el("i", { class: `fa-solid fa-${layer.icon}` })),
        el("div", {}, localText("h2", { id: "card-title" }, p, "name"), localText("div", { class: "muted" }, layer, "title")),
        el("button", { type: "button", class: "btn close", title: _("Close"), "aria-label": _("Close"), onclick: () => closeCard() }, "×")),
      quality ? el("span", { class: `badge quality-${quality}`, text: valueLabel(layer, "data_quality", quality) }) : null,
      layer.projects ? el("div", { id: "card-timeline" }) : null,
      el("table", { class: "attributes" }, ...rows),
      facts.length ? factsSection(layer, p) : null,
      sourcesSection(p),
      el("div", { id: "card-stats" }),
      el("div", { id: "card-nearby" }),
      el("div", { class: "card-actions" },
        el("button", { type: "button", class: "btn primary", id: "card-shortlist", onclick: () => (inBasket ? removeFromBasket : addToBasket)(layer.id, feature.id) },
          el("i", { class: `fa-solid fa-${inBasket ? "minus" : "plus"}` }), " ", (inBasket ? _("Remove from shortlist") : _("Add to shortlist"))),
        el("button", { type: "button", class: "btn", onclick: () => zoomToFeature(feature) }, el("i", { class: "fa-solid fa-magnifying-glass-plus" }), " ", _("Zoom to")),
        el("a", { class: "btn", href: `${href}?f=pdf&lang=${state.lang}`, target: "_blank" }, el("i", { class: "fa-solid fa-file-pdf" }), " ", _("Site sheet (PDF)")),
        el("a", { class: "btn", href, target: "_blank", id: "card-api" }, el("i", { class: "fa-solid fa-code" }), " ", _("Data (API)"))),
      enquiryForm(layer, feature),
    );
    const opening = card.hidden;
    card.hidden = false;
    if (opening && runtime.opener) card.focus();
    if (layer.projects) projectTimeline(feature);
    if (rasters.length) cardSection("stats", layer, feature, null, statsRows);
    if (config.nearby.length) {
      cardSection("nearby", layer, feature, new URLSearchParams({ layers: config.nearby.join(","), k: "1" }), nearbyRows);
    }
  }
  /** The investor facts a site of this layer carries (none for a layer without them). */
  function factNames(layer) {
    if (!layer.fields.completeness_pct) return [];
    return FACT_FIELDS.filter((n) => layer.fields[n]);
  }
  /** Every fact, its value or "no data yet": what GIS staff still have to collect shows. */
  function factsSection(layer, p) {
    const known = (n) => p[n] !== null && p[n] !== undefined && p[n] !== "";
    return el("section", { id: "card-facts" },
      el("h3", { text: _("Facts for investors") }),
      el("table", { class: "attributes facts" }, ...factNames(layer).map((n) =>
        fieldRow(layer, n, known(n) ? p[n] : undefined, { "data-fact": n, class: known(n) ? "fact-known" : "fact-missing" }))));
  }
  /** The site's sources as citations: in English for a reader of any other language than
      Vietnamese where the English citation exists, with the Vietnamese text (quotes and location
      notes) kept beside it. */
  function sourcesSection(p) {
    const main = state.lang !== "vi" && p.source_en ? p.source_en : p.source;
    const cites = [main, p.facts_source, p.distances_source].filter(Boolean);
    if (!cites.length) return null;
    return el("section", { id: "card-sources" },
      el("h3", { text: _("Sources") }),
      ...cites.map((text) => el("p", { class: "citation" }, el("cite", { text }))),
      main !== p.source && p.source ? el("details", {}, el("summary", { lang: "vi", text: window.i18n.endonyms.vi || "vi" }), el("p", { class: "citation", lang: "vi", text: p.source })) : null);
  }
  /** One more part of the open site's card, from `/items/{fid}/{part}`, drawn as a table. */
  async function cardSection(part, layer, feature, params, rows) {
    const path = `/collections/${layer.id}/items/${encodeURIComponent(feature.id)}/${part}`;
    const [box, body] = await cardPart(part, `${layer.id}/${feature.id}`, path, params);
    if (!box) return;
    const [title, found] = rows(body);
    fill(box, found.length ? [el("h3", { text: title }), el("table", { class: "attributes" }, ...found)] : null);
  }
  /** [`#card-{part}`, the answer of `path`] for the open site: asked once per site (a failed
      answer is asked again next time); [null] if it failed or the site is no longer open. */
  async function cardPart(part, site, path, params) {
    const cache = (runtime.cardParts[part] ||= {});
    cache[site] ||= api(path, params).catch((error) => {
      delete cache[site];
      throw error;
    });
    let body;
    try {
      body = await cache[site];
    } catch (error) {
      showError(error);
      return [null];
    }
    const box = document.getElementById(`card-${part}`);
    return state.site === site && box ? [box, body] : [null];
  }
  /** A pipeline project's timeline (/projects/{id}): how late it is, each step of its form's
      procedure with its state and dates, and its printable page. */
  async function projectTimeline(feature) {
    const id = encodeURIComponent(feature.id);
    const [box, project] = await cardPart("timeline", state.site, `/projects/${id}`);
    if (!box) return;
    const day = (iso) => (iso ? new Date(iso + "T00:00:00").toLocaleDateString(locale) : "");
    const steps = project.timeline.map((step) => el("li", { class: `step state-${step.state}${step.days_late > 0 ? " late" : ""}`, "data-step": step.step },
      el("strong", { text: pick(step, "name"), lang: fallbackTag(step, "name") }),
      el("div", { class: "step-state" }, STEP_STATES[step.state](), step.days_late > 0 ? el("span", { class: "late-by", text: " · " + _("{n} days late", { n: fmtNumber(step.days_late) }) }) : null),
      el("div", { class: "muted" }, [[_("Started"), step.started], [_("Planned"), step.planned], [_("Completed"), step.completed]]
        .filter(([, date]) => date).map(([label, date]) => `${label} ${day(date)}`).join(" · "))));
    fill(box,
      el("h3", { text: _("Procedure progress") }),
      project.days_behind > 0 ? el("p", { class: "behind", text: _("{n} days behind schedule", { n: fmtNumber(project.days_behind) }) }) : null,
      steps.length ? el("ol", { class: "timeline" }, ...steps) : el("p", { class: "muted", text: _("The investment form is not set yet, so there is no procedure.") }),
      el("a", { class: "btn", id: "card-project-page", href: `/projects/${id}?f=html&lang=${state.lang}`, target: "_blank" },
        el("i", { class: "fa-solid fa-print" }), " ", _("Project page (printable)")));
  }
  /** "Ask about this site" (or project): posts an enquiry to /enquiries. Nothing typed here or
      answered by the server becomes HTML: the reply is shown as text. */
  function enquiryForm(layer, feature) {
    const about = layer.projects ? { project: feature.id } : { site: { collection: layer.id, id: feature.id } };
    const status = el("p", { class: "enquiry-status", role: "status", "aria-live": "polite" });
    const field = (name, label, attrs) => el("label", {}, el("span", { text: label }), el(name === "message" ? "textarea" : "input", Object.assign({ name }, attrs)));
    const form = el("form", { id: "enquiry-form", class: "enquiry" },
      field("name", _("Name"), { required: true, maxlength: 200, autocomplete: "name" }),
      field("organisation", _("Organisation or company"), { maxlength: 200, autocomplete: "organization" }),
      field("email", _("Email"), { type: "email", maxlength: 254, autocomplete: "email" }),
      field("phone", _("Phone"), { type: "tel", maxlength: 24, autocomplete: "tel" }),
      el("label", { class: "trap", "aria-hidden": "true" }, _("Leave this empty"), el("input", { name: "website", tabindex: "-1", autocomplete: "off" })),
      field("message", _("Your question"), { required: true, maxlength: 4000, rows: 4 }),
      el("button", { type: "submit", class: "btn primary" }, _("Send the question")),
      status);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      sendEnquiry(form, status, about);
    });
    return el("details", { class: "card-enquiry", id: "card-enquiry" },
      el("summary", { text: (layer.projects ? _("Ask about this project") : _("Ask about this site")) }),
      el("p", { class: "muted", text: _("Send a question to the responsible agency; only its officers see your contact details.") }), form);
  }
  async function sendEnquiry(form, status, about) {
    const said = (text, kind) => {
      status.textContent = text;
      status.className = "enquiry-status " + kind;
    };
    const fields = Object.fromEntries(new FormData(form));
    if (!fields.email && !fields.phone) return said(_("Please give an email address or a phone number to be answered on."), "error");
    said(_("Sending…"), "");
    try {
      const created = await api("/enquiries", null, {
        method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify(Object.assign({
          name: fields.name, organisation: fields.organisation, email: fields.email || null,
          phone: fields.phone || null, language: state.lang, message: fields.message, website: fields.website,
        }, about)),
      });
      window.forms.markProblems(form, null);
      form.reset();
      said(_("Sent. Your enquiry number: {id}", { id: created.id }), "ok");
      status.scrollIntoView({ block: "nearest" });
    } catch (error) {
      said(window.forms.markProblems(form, error.refusal) || error.message, "error");
    }
  }
  /** The nearest feature of each layer the definition names, with its distance on the ellipsoid. */
  function nearbyRows(body) {
    const distance = (m) => (m < 1000 ? `${fmtNumber(Math.round(m / 10) * 10)} m` : fmtKm(m / 1000));
    return [_("Nearest (straight line)"), Object.entries(body.nearby).filter(([, found]) => found.length).map(([layerId, [near]]) => {
      const other = byId[layerId];
      const [name, nameLang] = localized(near, "name");  // the page's language, else English, else Vietnamese
      const label = other ? pick(other, "title") : layerId;
      const labelLang = other ? fallbackTag(other, "title") : null;
      const attrs = { lang: window.i18n.tags[nameLang] || nameLang, text: name || near.id };
      const target = other ? el("a", Object.assign(attrs, { href: "#", onclick: (e) => { e.preventDefault(); openCard(layerId, near.id); } })) : el("span", attrs);
      return el("tr", { "data-layer": layerId }, el("th", { text: label, lang: labelLang }), el("td", {}, target, ` — ${distance(near.distance_m)}`));
    })];
  }
  /** Every raster's statistics over the site. */
  function statsRows(body) {
    const value = (s) => {
      const unit = s.unit ? " " + s.unit : "";
      if (s.mean === null) return s.reason || "–";
      const text = s.min === s.max ? fmtNumber(s.mean) + unit
        : _("mean {mean} (from {min} to {max})", { mean: fmtNumber(s.mean) + unit, min: fmtNumber(s.min), max: fmtNumber(s.max) + unit });
      return s.coverage < 0.995 ? `${text}; ${_("covers {pct}% of the area", { pct: fmtNumber(s.coverage * 100) })}` : text;
    };
    return [_("Raster statistics"), body.stats.map((s) => el("tr", { "data-raster": s.raster },
      el("th", { text: pick(s, "title"), lang: fallbackTag(s, "title") }), el("td", { text: value(s) })))];
  }
  function zoomToFeature(feature) {
    const bounds = L.geoJSON(feature).getBounds();
    if (bounds.isValid()) map.fitBounds(bounds, { maxZoom: 15, padding: [40, 40] });
  }

  // -- shortlist basket -----------------------------------------------------------------
  function loadBasket() {
    try {
      return JSON.parse(localStorage.getItem(BASKET_KEY)) || {};
    } catch (e) {
      return {};
    }
  }
  function saveBasket(basket) {
    localStorage.setItem(BASKET_KEY, JSON.stringify(basket));
  }
  const editKey = (id) => (loadBasket().keys || {})[id];
  const basketHas = (layerId, fid) => Boolean(runtime.shortlist && runtime.shortlist.items.some((i) => i.collection === layerId && i.id === fid));
  async function loadShortlist() {
    if (!state.shortlist) {
      runtime.shortlist = null;
      renderBasket();
      return;
    }
    try {
      runtime.shortlist = await api(`/shortlists/${encodeURIComponent(state.shortlist)}`);
    } catch (error) {
      runtime.shortlist = null;
      showError(error);
    }
    renderBasket();
  }
  async function addToBasket(layerId, fid) {
    const item = { collection: layerId, id: fid };
    try {
      if (state.shortlist && editKey(state.shortlist)) {
        runtime.shortlist = await api(`/shortlists/${state.shortlist}`, null, {
          method: "PATCH", headers: { "Content-Type": "application/json", "X-Shortlist-Key": editKey(state.shortlist) },
          body: JSON.stringify({ add: [item] }),
        });
      } else {
        const shared = runtime.shortlist ? runtime.shortlist.items.filter((i) => i.found !== false).map((i) => ({ collection: i.collection, id: i.id })) : [];
        const created = await api("/shortlists", null, {
          method: "POST", headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ name: _("My shortlist"), items: [...shared, item] }),
        });
        const basket = loadBasket();
        saveBasket({ id: created.id, keys: Object.assign(basket.keys || {}, { [created.id]: created.edit_key }) });
        state.shortlist = created.id;
        runtime.shortlist = created;
      }
      afterBasketChange();
    } catch (error) {
      showError(error);
    }
  }
  async function removeFromBasket(layerId, fid) {
    if (!state.shortlist || !editKey(state.shortlist)) return;
    try {
      runtime.shortlist = await api(`/shortlists/${state.shortlist}`, null, {
        method: "PATCH", headers: { "Content-Type": "application/json", "X-Shortlist-Key": editKey(state.shortlist) },
        body: JSON.stringify({ remove: [{ collection: layerId, id: fid }] }),
      });
      afterBasketChange();
    } catch (error) {
      showError(error);
    }
  }
  function afterBasketChange() {
    writeUrl(false);
    renderBasket();
    const focused = document.activeElement && document.activeElement.id; // kept across the redraw
    if (runtime.card) renderCard(...runtime.card);
    if (focused && document.getElementById(focused)) document.getElementById(focused).focus();
  }
  /** The element of a feature's marker (its point, or its area's pin) as drawn now, if shown. */
  function markerElement(layerId, fid) {
    const layer = byId[layerId];
    if (!layer) return null;
    const found = group(layer).getLayers().find((m) => m.getElement && (m.options.siteId || (m.feature && m.feature.id)) === fid);
    return found ? found.getElement() : null;
  }
  function renderBasket() {
    const items = runtime.shortlist ? runtime.shortlist.items : [];
    document.getElementById("basket-count").textContent = String(items.length);
    const box = document.getElementById("basket");
    const editable = state.shortlist && editKey(state.shortlist);
    fill(box, 
      el("div", { class: "card-head" }, el("h2", { text: _("Shortlist") }),
        el("button", { type: "button", class: "btn close", title: _("Close"), "aria-label": _("Close"), onclick: () => toggleAside("basket", false) }, "×")),
      state.shortlist && !editable ? el("p", { class: "muted", text: _("A shared shortlist (read only). Adding a site starts your own.") }) : null,
      items.length ? el("ol", { id: "basket-items" }, ...items.map((i) => el("li", { "data-item": `${i.collection}/${i.id}` },
        el("a", { href: "#", onclick: (e) => { e.preventDefault(); openCard(i.collection, i.id); } },
          i.found === false ? `${i.id} (${_("no longer in the catalogue")})` : featureName(i)),
        el("span", { class: "muted", text: " · " + (byId[i.collection] ? pick(byId[i.collection], "title") : i.collection) }),
        editable ? el("button", { type: "button", class: "btn small", title: _("Remove from shortlist"), "aria-label": _("Remove from shortlist"), onclick: () => removeFromBasket(i.collection, i.id) }, "×") : null,
      ))) : el("p", { class: "muted", text: _("No sites yet. Open a site and choose “Add to shortlist”.") }),
      items.length ? el("div", { class: "exports" }, el("strong", { text: _("Download") + ": " }),
        ...EXPORTS.map((f) => el("a", { class: "btn small", href: `/shortlists/${state.shortlist}/export?f=${f}&lang=${state.lang}`, "data-format": f }, f.toUpperCase()))) : null,
    );
  }

  /** page.py adds the basemap switcher first, then the grouped data layers: give each its own icon. */
  function markLayerControls() {
    const toggles = document.getElementById(config.map).querySelectorAll(".leaflet-control-layers-toggle");
    ["basemap-toggle", "overlay-toggle"].forEach((name, i) => toggles[i] && toggles[i].classList.add(name));
  }

  // -- start -------------------------------------------------------------------------------
  function start() {
    map = window[config.map];
    const view = readUrl();
    buildChrome();
    document.addEventListener("keydown", onEscape);
    markLayerControls();
    if (view) map.setView(view.center, view.zoom, { animate: false });
    else if (config.view.bounds) map.fitBounds(config.view.bounds);
    syncControls();
    applyLang();
    map.on("overlayadd overlayremove", (e) => {
      const raster = rasters.find((r) => window[r.layer] === e.layer);
      if (raster) {
        state.rasters[e.type === "overlayadd" ? "add" : "delete"](raster.id);
        writeUrl(true);
        renderLegend();
        return;
      }
      const layer = layers.find((l) => group(l) === e.layer);
      if (!layer) return;
      if (e.type === "overlayadd") state.visible.add(layer.id);
      else state.visible.delete(layer.id);
      writeUrl(true);
      renderLegend();
      refreshLayer(layer);
    });
    map.on("moveend", () => {
      writeUrl(false);
      for (const layer of layers) {
        if (!state.visible.has(layer.id)) continue;
        drawLayer(layer);
        if (state.inview) updateFacets(layer);
      }
    });
    window.addEventListener("popstate", () => {
      const view = readUrl();
      if (view) map.setView(view.center, view.zoom, { animate: false });
      syncControls();
      applyLang();
      for (const layer of layers) refreshLayer(layer);
      if (state.site) openCard(...state.site.split(/\/(.*)/s).slice(0, 2), false);
      else closeCard(false);
      loadShortlist();
    });
    for (const layer of layers) refreshLayer(layer);
    // a shared ?site= link without a view of its own centres the map on the site
    if (state.site) openCard(...state.site.split(/\/(.*)/s).slice(0, 2), false, !view);
    loadShortlist();
    writeUrl(false);
    document.dispatchEvent(new Event("sitemap:ready"));
    busy(0);
  }
  /** What other scripts of the page (rank.js) build on; they start on the "sitemap:ready" event. */
  const ui = {
    el, fill, pick, fmtNumber, config, state, api, showError, openCard, layerFilter, viewBbox,
  };
  window.siteMap = { state, config, runtime, layerFilter, queryParams, group, viewBbox, ui };
  document.addEventListener("DOMContentLoaded", start);
})();
