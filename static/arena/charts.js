// Plots on the tournament page (Chart.js, vendored): the CI forest plot, empirical and
// predicted win-rate heatmaps, and online Elo over time (stored points, thinned as the
// tournament grows, then the standings now). Data: charts.json; refreshed
// when live.js reports a leaderboard update (at most every few seconds).
(function () {
  "use strict";
  const root = document.getElementById("charts");
  if (!root || !window.Chart) return;
  const url = root.dataset.src;
  const bars = window.ChartErrorBars;
  if (bars) window.Chart.register(bars.ScatterWithErrorBarsController, bars.PointWithErrorBar);
  const charts = {};
  const palette = ["#3056d3", "#d3303f", "#2a9d63", "#e08b12", "#7b3fd3", "#0e8fa8", "#8a6d3b", "#c2418a"];

  function forest(data) {
    const rows = data.leaderboard.filter((r) => r.bt !== null);
    return {
      type: "scatterWithErrorBars",
      data: {
        datasets: [{
          label: "Bradley-Terry rating, 95% CI",
          data: rows.map((r) => ({ x: r.bt, xMin: r.bt_low, xMax: r.bt_high, y: r.contestant })),
          backgroundColor: "#3056d3",
        }],
      },
      options: {
        indexAxis: "y", animation: false, maintainAspectRatio: false,
        scales: { y: { type: "category", labels: rows.map((r) => r.contestant) } },
        plugins: { legend: { display: false }, title: { display: true, text: "Rating with 95% CI" } },
      },
    };
  }

  function heatmap(data, key, title) {
    const cells = [];
    data.models.forEach((a, i) => data.models.forEach((b, j) => {
      const v = data[key][i][j];
      if (v !== null) cells.push({ x: b, y: a, v: v });
    }));
    return {
      type: "matrix",
      data: {
        datasets: [{
          label: title, data: cells,
          backgroundColor: (c) => {
            const v = c.raw ? c.raw.v : 0.5;
            return v >= 0.5 ? `rgba(48,86,211,${(v - 0.5) * 1.8 + 0.05})` : `rgba(211,48,63,${(0.5 - v) * 1.8 + 0.05})`;
          },
          width: (c) => (c.chart.chartArea || {}).width / data.models.length - 1,
          height: (c) => (c.chart.chartArea || {}).height / data.models.length - 1,
        }],
      },
      options: {
        animation: false, maintainAspectRatio: false,
        scales: {
          x: { type: "category", labels: data.models, offset: true, grid: { display: false } },
          y: { type: "category", labels: data.models, offset: true, grid: { display: false }, reverse: true },
        },
        plugins: {
          legend: { display: false }, title: { display: true, text: title },
          tooltip: { callbacks: { label: (c) => `${c.raw.y} beats ${c.raw.x}: ${(c.raw.v * 100).toFixed(0)}%` } },
        },
      },
    };
  }

  function history(data) {
    return {
      type: "line",
      data: {
        labels: data.history.map((h) => h.n),
        datasets: data.models.map((m, i) => ({
          label: m, data: data.history.map((h) => h.elo[m]), borderColor: palette[i % palette.length],
          pointRadius: 0, borderWidth: 1.5,
        })),
      },
      options: {
        animation: false, maintainAspectRatio: false,
        scales: { x: { title: { display: true, text: "verdicts" } } },
        plugins: { title: { display: true, text: "Online Elo over time" } },
      },
    };
  }

  function draw(id, config) {
    if (charts[id]) charts[id].destroy();
    charts[id] = new window.Chart(document.getElementById(id), config);
  }

  let pending = null;
  async function refresh() {
    pending = null;
    const data = await (await fetch(url, { headers: { Accept: "application/json" } })).json();
    draw("chart-forest", forest(data));
    draw("chart-winrate", heatmap(data, "win_rate", "Win rate, observed (row beats column)"));
    draw("chart-predicted", heatmap(data, "predicted", "Win rate, predicted by BT"));
    draw("chart-history", history(data));
    // How many verdicts the plots cover: the history's last point is the standings now.
    root.dataset.drawn = String(data.history.length ? data.history[data.history.length - 1].n : 0);
  }
  document.addEventListener("arena:leaderboard", () => {
    if (!pending) pending = setTimeout(refresh, 2000);
  });
  refresh();
})();
