// Live tournament page: applies the server's typed events (arena/live.py) without reload.
(function () {
  "use strict";
  const table = document.getElementById("leaderboard");
  if (!table) return;
  const id = table.dataset.tournament;
  const stateEl = document.getElementById("live-state");
  const text = (tag, value) => { const el = document.createElement(tag); el.textContent = value; return el; };
  // Contestants this tournament's judge is the model of (allowed by allow_self_judging).
  const selfEl = document.getElementById("self-judged");
  const selfJudged = new Set(selfEl ? JSON.parse(selfEl.textContent) : []);
  const selfNote = document.getElementById("self-judged-note");
  const tagged = (className, label, title) => {
    const tag = document.createElement("span");
    tag.className = className;
    tag.textContent = label;
    if (title) tag.title = title;
    return tag;
  };
  const named = (r) => {
    const td = document.createElement("td");
    td.textContent = r.contestant;
    if (r.preliminary) td.append(" ", tagged("prelim", "preliminary"));
    if (selfJudged.has(r.contestant)) td.append(" ", tagged("prelim self-judged", "judged by itself", selfNote && selfNote.textContent));
    return td;
  };

  // A bracket's places come with its rounds section (re-rendered by the server), the
  // ratings with leaderboard events: the place column joins the two by model.
  const bracket = table.hasAttribute("data-bracket");
  // A K-wise board's Plackett-Luce and Weng-Lin columns (arena/listwise.py).
  const kwise = table.hasAttribute("data-kwise");
  // A value that rounds to zero shows as 0 (a centred log-strength is often -1e-17).
  const fixed = (value, digits) => (value === null || value === undefined ? "–" : (Math.abs(value) < 0.5 * 10 ** -digits ? 0 : value).toFixed(digits));
  const places = () => {
    const el = document.getElementById("bracket-places");
    return el ? JSON.parse(el.textContent) : {};
  };
  function fillPlaces() {
    if (!bracket) return;
    const known = places();
    for (const tr of table.tBodies[0].rows) tr.querySelector("td.place").textContent = known[tr.dataset.model] || "–";
  }

  // Without a verdict nobody has a rating: say so instead of a table of starting values.
  const noVerdicts = document.getElementById("no-verdicts");
  function renderLeaderboard(rows) {
    const rated = rows.some((r) => r.matches > 0);
    table.hidden = !rated;
    noVerdicts.hidden = rated;
    const body = table.tBodies[0];
    body.replaceChildren(...rows.map((r) => {
      const tr = document.createElement("tr");
      tr.dataset.model = r.contestant;
      const bt = r.bt === null ? "–" : r.bt.toFixed(0);
      const ci = r.bt === null ? "–" : `${r.bt_low.toFixed(0)} – ${r.bt_high.toFixed(0)}`;
      tr.append(text("td", r.rank), named(r));
      if (kwise) {
        const plCi = r.pl === null || r.pl === undefined ? "–" : `${fixed(r.pl_low, 2)} – ${fixed(r.pl_high, 2)}`;
        tr.append(text("td", fixed(r.pl, 2)), text("td", plCi), text("td", fixed(r.wl_ordinal, 1)));
      }
      if (bracket) { const place = text("td", "–"); place.className = "place"; tr.append(place); }
      tr.append(text("td", bt), text("td", ci),
        text("td", r.elo === null || r.elo === undefined ? "–" : r.elo.toFixed(1)), text("td", r.sco === null || r.sco === undefined ? "–" : r.sco.toFixed(1)),
        text("td", r.matches), text("td", r.win_rate.toFixed(3)), text("td", r.ties));
      return tr;
    }));
    fillPlaces();
  }

  // ETA from the pace seen on this page: matches finished per second since it opened.
  let firstSeen = null;
  function eta(e) {
    const now = Date.now();
    if (!firstSeen) firstSeen = { t: now, done: e.done };
    const rate = (e.done - firstSeen.done) / ((now - firstSeen.t) / 1000);
    if (e.status !== "running" || !e.planned || !(rate > 0)) return "";
    const seconds = Math.round((e.planned - e.done) / rate);
    return seconds < 90 ? `· about ${seconds} s left` : `· about ${Math.round(seconds / 60)} min left`;
  }

  // A finished tournament never runs again: a late event with an older status is stale.
  const FINAL = new Set(["completed", "cancelled", "failed"]);
  function renderProgress(e) {
    const shown = document.getElementById("status").textContent.trim();
    if (FINAL.has(shown) && e.status !== shown) return;
    document.getElementById("eta").textContent = eta(e);
    if (e.spend_usd !== undefined) document.getElementById("spend").textContent = Number(e.spend_usd).toFixed(4);
    const status = document.getElementById("status");
    status.textContent = e.status;
    status.className = "status " + e.status;
    document.getElementById("progress").textContent = e.planned ? `${e.done} / ${e.planned}` : `${e.done}`;
    // Progress toward the planner's tau target (the verdicts it expects to need).
    const plan = document.getElementById("plan-progress");
    const needed = Number(document.getElementById("plan")?.dataset.matches);
    if (plan && needed) plan.textContent = `${e.done} (${Math.floor((100 * e.done) / needed)}%)`;
    document.getElementById("failed").textContent = e.failed ? ` · ${e.failed} failed` : "";
    const error = document.getElementById("tournament-error");
    error.textContent = e.error || "";
    error.hidden = !e.error;
    if (FINAL.has(e.status)) noVerdicts.textContent = "No verdicts: this tournament has no ratings.";
    const bar = document.getElementById("progress-bar");
    bar.max = e.planned || 1;
    bar.value = e.done;
  }

  // The rounds section is re-rendered by the server (one fetch per burst of verdicts).
  let roundsPending = null;
  function refreshRounds() {
    const rounds = document.getElementById("rounds");
    if (!rounds || roundsPending) return;
    roundsPending = setTimeout(async () => {
      roundsPending = null;
      const response = await fetch(rounds.dataset.src);
      if (response.ok) {
        rounds.outerHTML = await response.text();
        fillPlaces();
      }
    }, 1000);
  }

  // Per-prompt brackets: choosing a prompt shows its bracket (the section is re-rendered,
  // so the listener sits on the document).
  document.addEventListener("change", (event) => {
    if (event.target.id === "bracket-choice") event.target.form.submit();
  });

  // Matches are labelled as the server labels them (selectors.match_label): rounds count
  // from 1; a bracket's rounds, anchor pass, third-place match and re-judges by name.
  const labelsEl = document.getElementById("round-labels");
  const roundLabels = labelsEl ? JSON.parse(labelsEl.textContent) : {};
  function matchLabel(round, slot) {
    const r = roundLabels[round];
    if (!r) return `Round ${round + 1}`;
    // Per-prompt brackets: the slot's bracket is slot // stride, the rest is one bracket's.
    const within = r.stride ? slot % r.stride : slot;
    const label = within % r.width === r.third ? r.third_label : r.label;
    const named = r.stride && r.stage !== "anchor" ? `Prompt ${Math.floor(slot / r.stride) + 1} · ${label}` : label;
    return r.stage !== "anchor" && within >= r.width ? `${named} · re-judged` : named;
  }

  function renderMatch(e) {
    refreshRounds();
    const list = document.getElementById("matches");
    const key = `${e.round}:${e.slot}`;
    if (list.querySelector(`li[data-match="${key}"]`)) return;  // already listed (resync)
    const verdict = e.ranking.map((tier) => tier.join(" = ")).join("  >  ");
    const item = text("li", `${matchLabel(e.round, e.slot)} · ${e.status}${verdict ? " · " + verdict : ""}`);
    item.dataset.match = key;
    list.prepend(item);
    while (list.children.length > 20) list.lastChild.remove();
  }

  // What finished before the socket was open (between this page's render and the
  // connection, or while it was reconnecting) sent no event here: on every (re)connect the
  // page fetches itself again and takes the latest matches and progress from it, keeping
  // the matches events listed meanwhile that the fetched page does not have yet.
  async function resync() {
    const response = await fetch(location.href, { headers: { Accept: "text/html" } });
    if (!response.ok) return;
    const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
    const list = document.getElementById("matches");
    const freshList = fresh.getElementById("matches");
    if (list && freshList) {
      const listed = new Set([...freshList.children].map((li) => li.dataset.match));
      const newer = [...list.children].filter((li) => !listed.has(li.dataset.match));
      list.replaceChildren(...newer, ...freshList.children);
      while (list.children.length > 20) list.lastChild.remove();
    }
    for (const id of ["status", "progress", "failed"]) {
      const here = document.getElementById(id), there = fresh.getElementById(id);
      if (here && there) here.innerHTML = there.innerHTML;
    }
    refreshRounds();
  }

  // "updated n s ago": the time since the leaderboard last changed (or the page loaded).
  let stamp = Date.now();
  const updated = document.getElementById("updated");
  setInterval(() => {
    const seconds = Math.round((Date.now() - stamp) / 1000);
    updated.textContent = seconds < 2 ? "updated just now" : `updated ${seconds} s ago`;
  }, 1000);

  // Fits run in workers after commit, the completion's final one among them, so a fit
  // over fewer verdicts can arrive last: fewer matches counted than shown means stale.
  let shownMatches = 0;
  const handlers = {
    "leaderboard.updated": (e) => {
      const counted = e.rows.reduce((sum, r) => sum + r.matches, 0);
      if (counted < shownMatches) return;
      shownMatches = counted;
      stamp = Date.now();
      renderLeaderboard(e.rows);
      document.dispatchEvent(new CustomEvent("arena:leaderboard"));
    },
    "tournament.progress": (e) => { renderProgress(e); refreshRounds(); },
    "match.finished": renderMatch,
  };

  function connect(delay) {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const socket = new WebSocket(`${scheme}://${location.host}/ws/tournaments/${id}/`);
    socket.onopen = () => { stateEl.textContent = "live"; delay = 500; resync(); };
    socket.onmessage = (msg) => {
      const event = JSON.parse(msg.data);
      (handlers[event.type] || (() => {}))(event);
    };
    socket.onclose = () => {
      stateEl.textContent = "reconnecting…";
      setTimeout(() => connect(Math.min(delay * 2, 10000)), delay);
    };
  }
  connect(500);
})();
