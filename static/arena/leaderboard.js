// Global leaderboard: switches reload the table; a "leaderboard.changed" event refetches it.
(function () {
  "use strict";
  const table = document.getElementById("global-leaderboard");
  const form = document.getElementById("filters");
  if (!table || !form) return;
  const updated = document.getElementById("updated");
  const state = document.getElementById("live-state");
  let stamp = Date.now();
  const fmt = (v, digits) => (v === null ? "–" : v.toFixed(digits));
  const cell = (value) => { const td = document.createElement("td"); td.textContent = value; return td; };
  const named = (r) => {
    const td = document.createElement("td");
    td.textContent = r.contestant;
    if (r.preliminary) {
      const tag = document.createElement("span");
      tag.className = "prelim";
      tag.textContent = "preliminary";
      td.append(" ", tag);
    }
    return td;
  };

  form.addEventListener("change", () => form.submit());

  // Under style control Soft Condorcet is not computed: the cell says why, as the page does.
  const styleNote = table.tHead.rows[0].cells[4].title;
  const scoCell = (r) => {
    const td = cell(fmt(r.sco, 1));
    if (r.sco === null) td.title = styleNote || "no verdict yet";
    return td;
  };

  // The overall ranking and the judges' panel come after the ratings (they read many
  // more cells: every category's board, every source's).
  async function loadPanel(panel, loading, what) {
    const response = await fetch(panel.dataset.src);
    if (response.ok) panel.innerHTML = await response.text();
    else if (loading) loading.textContent = `${what} could not be loaded (HTTP ${response.status}).`;
  }
  const overall = document.getElementById("overall-panel");
  if (overall) loadPanel(overall, overall.querySelector(".lazy-loading"), "The overall ranking");
  const panel = document.getElementById("judge-quality-panel");
  if (panel) loadPanel(panel, document.getElementById("judge-quality-loading"), "The judges' statistics");

  function render(rows) {
    table.tBodies[0].replaceChildren(...rows.map((r) => {
      const tr = document.createElement("tr");
      tr.append(cell(r.rank), named(r), cell(fmt(r.bt, 0)),
        cell(r.bt === null ? "–" : `${r.bt_low.toFixed(0)} – ${r.bt_high.toFixed(0)}`),
        scoCell(r), cell(r.matches), cell(r.win_rate.toFixed(3)));
      return tr;
    }));
    stamp = Date.now();
  }

  const terms = document.querySelector("#position-terms tbody");
  function renderTerms(list) {
    if (!terms || !list.length) return;
    terms.replaceChildren(...list.map((t) => {
      const tr = document.createElement("tr");
      tr.append(cell(t.source), cell(t.elo.toFixed(1)), cell(`${t.low.toFixed(1)} – ${t.high.toFixed(1)}`), cell(t.observations));
      return tr;
    }));
  }

  let pending = null;
  async function refetch() {
    pending = null;
    const query = new URLSearchParams(new FormData(form)).toString();
    const response = await fetch(`${table.dataset.src}?${query}`);
    if (!response.ok) return;
    const data = await response.json();
    render(data.rows);
    renderTerms(data.position_terms);
  }

  setInterval(() => {
    const seconds = Math.round((Date.now() - stamp) / 1000);
    updated.textContent = seconds < 2 ? "updated just now" : `updated ${seconds} s ago`;
  }, 1000);

  function connect(delay) {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const socket = new WebSocket(`${scheme}://${location.host}/ws/leaderboard/`);
    socket.onopen = () => { state.textContent = "live"; delay = 500; };
    socket.onmessage = (msg) => {
      if (JSON.parse(msg.data).type === "leaderboard.changed" && !pending) pending = setTimeout(refetch, 500);
    };
    socket.onclose = () => { state.textContent = "reconnecting…"; setTimeout(() => connect(Math.min(delay * 2, 10000)), delay); };
  }
  connect(500);
})();
