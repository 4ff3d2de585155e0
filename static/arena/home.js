// The home page keeps its lists current: each `leaderboard.changed` (a tournament's
// results were published, arena/live.py) fetches them again, at most once per few seconds.
(function () {
  "use strict";
  const lists = document.getElementById("home-lists");
  if (!lists) return;
  const QUIET_MS = 3000;
  let pending = null;

  async function refetch() {
    const response = await fetch(lists.dataset.src, { credentials: "same-origin" });
    if (response.ok) lists.innerHTML = await response.text();
    setTimeout(() => { pending = null; }, QUIET_MS);
  }

  function soon() {
    if (!pending) pending = setTimeout(refetch, 500);
  }

  // A tab come back into view may have missed events while its socket slept.
  document.addEventListener("visibilitychange", () => { if (!document.hidden) soon(); });

  function connect(delay) {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const socket = new WebSocket(`${scheme}://${location.host}/ws/leaderboard/`);
    socket.onopen = () => { delay = 500; };
    socket.onmessage = (msg) => {
      if (JSON.parse(msg.data).type === "leaderboard.changed") soon();
    };
    socket.onclose = () => setTimeout(() => connect(Math.min(delay * 2, 10000)), delay);
  }
  connect(500);
})();
