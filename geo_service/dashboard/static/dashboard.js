// The dashboard's drawings: progress bars' widths, Chart.js bar charts and the communes'
// proportional symbols on a Leaflet map, from the JSON the page carries. No eval, no inline code.
(function () {
  "use strict";
  const data = JSON.parse(document.getElementById("dashboard-data").textContent);
  const locale = data.lang === "vi" ? "vi-VN" : "en-GB";
  const number = (value) => new Intl.NumberFormat(locale, { maximumFractionDigits: 1 }).format(value);

  document.querySelectorAll(".bar .fill, .bar .pace").forEach((element) => {
    const share = Math.max(0, Math.min(1, Number(element.dataset.share) || 0));
    if (element.classList.contains("fill")) element.style.width = `${share * 100}%`;
    else element.style.left = `${share * 100}%`;
  });

  Chart.defaults.animation = false;
  Chart.defaults.font.family = "system-ui, sans-serif";
  const TICK_FONT = { size: 11 };
  const measure = document.createElement("canvas").getContext("2d");
  measure.font = `${TICK_FONT.size}px ${Chart.defaults.font.family}`;
  /** `label` cut with an ellipsis to fit `room` pixels: a bar chart's names get at most half
      its width (Chart.js's limit for a side axis), and a longer one would be cut at the canvas's
      edge, its beginning lost (on a phone, "nd-use-right auction projects"). */
  const fitted = (label, room) => {
    if (measure.measureText(label).width <= room) return label;
    let cut = label;
    while (cut.length > 1 && measure.measureText(`${cut}…`).width > room) cut = cut.slice(0, -1);
    return `${cut.trimEnd()}…`;
  };
  for (const [name, chart] of Object.entries(data.charts)) {
    const canvas = document.getElementById(`chart-${name}`);
    new Chart(canvas, {
      type: "bar",
      data: {
        labels: chart.labels,
        datasets: [
          { label: data.labels.this, data: chart.current, backgroundColor: "#c2410c" },
          { label: data.labels.before, data: chart.previous, backgroundColor: "#9ca3af" },
        ],
      },
      options: {
        indexAxis: name === "year" ? "x" : "y",
        responsive: true,
        maintainAspectRatio: false,
        plugins: {
          legend: { position: "bottom" },
          tooltip: { callbacks: { label: (item) => `${item.dataset.label}: ${number(item.raw)}` } },
        },
        scales: {
          x: { ticks: { autoSkip: name !== "year" } },
          y: {
            ticks: {
              autoSkip: false,
              font: TICK_FONT,
              // long names are cut on the axis; the tooltip and the table give them whole
              callback(value) {
                const label = String(this.getLabelForValue(value));
                return name === "year" ? label : fitted(label, this.chart.width / 2 - 24);
              },
            },
          },
        },
      },
    });
  }

  const map = L.map("commune-map", { scrollWheelZoom: false }).setView([21.25, 104.0], 8);
  L.tileLayer(data.basemap.url, { attribution: data.basemap.attribution, maxZoom: 18 }).addTo(map);
  const largest = Math.max(1, ...data.communes.map((c) => c.value));
  const symbols = data.communes.map((commune) =>
    L.circleMarker([commune.lat, commune.lon], {
      radius: 4 + 22 * Math.sqrt(commune.value / largest),
      color: "#9a3412",
      weight: 1,
      fillColor: "#c2410c",
      fillOpacity: 0.55,
    }).bindTooltip(`${commune.name}: ${number(commune.value)}`).addTo(map)
  );
  if (symbols.length) map.fitBounds(L.featureGroup(symbols).getBounds().pad(0.3), { maxZoom: 10 });
  window.dashboardMap = map;
  document.body.dataset.state = "ready";
})();
