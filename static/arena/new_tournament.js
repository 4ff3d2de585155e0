// The new-tournament page's planner: reads the form, asks /api/plan, shows the plan (or
// why there is none, or that a worker is on it), and lets staff ask for a simulation.
(() => {
  const form = document.getElementById("new-tournament");
  const result = document.getElementById("plan-result");
  const simulate = document.getElementById("plan-simulate");
  const halfWidth = document.getElementById("plan-half-width");
  if (!form || !result) return;
  let timer = null;

  function query() {
    const value = (id) => (document.getElementById(id) || {}).value || "";
    const config = {};
    try { Object.assign(config, JSON.parse(value("id_options") || "{}")); } catch (e) { return null; }
    if (value("id_k")) config.k = Number(value("id_k"));
    const models = form.querySelectorAll("input[name=contestants]:checked").length;
    const params = new URLSearchParams({ format: value("id_format"), models: String(models), config: JSON.stringify(config) });
    if (value("id_judge")) params.set("judge", value("id_judge"));
    if (value("id_prompt_set")) params.set("prompt_set", value("id_prompt_set"));
    if (halfWidth.value) params.set("half_width", halfWidth.value);
    return params;
  }

  const money = (usd) => (usd === null || usd === undefined ? "" : `, ≈ $${usd.toFixed(2)}`);
  function target(p, name, what) {
    const matches = p[`matches_to_${name}`];
    if (matches === null || matches === undefined) return `${what}: not reached within the simulator's cap of 600 matches per model`;
    return `${what}: about ${matches} matches (${p[`judge_calls_to_${name}`]} judge calls${money(p[`usd_to_${name}`])})`;
  }

  function render(p) {
    simulate.hidden = p.status !== "not_planned";
    clearTimeout(timer);
    if (p.status === "ready") {
      const parts = [target(p, "tau", `To τ ${p.tau}`)];
      if (p.half_width) parts.push(target(p, "half_width", `to ±${p.half_width} Elo`));
      result.textContent = `${parts.join("; ")} (simulated: ${p.description}, ${p.n_models} models, median of ${p.seeds} truths).`;
    } else if (p.status === "computing") {
      result.textContent = `A worker is simulating this format with ${p.n_models} models (a few minutes); this updates itself.`;
      timer = setTimeout(ask, 10000);
    } else if (p.status === "not_planned") {
      result.textContent = `Not simulated yet for this format with ${p.n_models} models.`;
    } else {
      result.textContent = `No plan: ${p.reason}.`;
    }
  }

  async function ask(method = "GET") {
    const params = query();
    if (!params) { result.textContent = "The options are not JSON yet."; return; }
    if (params.get("models") === "0") { result.textContent = "Choose the contestants."; simulate.hidden = true; return; }
    const headers = { "X-CSRFToken": form.querySelector("[name=csrfmiddlewaretoken]").value };
    const response = await fetch(`/api/plan?${params}`, { method, headers, credentials: "same-origin" });
    if (!(response.headers.get("content-type") || "").includes("json")) {
      result.textContent = `No plan: the server answered ${response.status} ${response.statusText}.`;
      simulate.hidden = true;
      return;
    }
    const body = await response.json();
    if (!response.ok) {
      const errors = body.errors ? Object.entries(body.errors).map(([k, v]) => `${k}: ${v}`).join("; ") : body.detail;
      result.textContent = `No plan: ${errors || response.statusText}.`;
      simulate.hidden = true;
      return;
    }
    render(body);
  }

  form.addEventListener("change", () => ask());
  halfWidth.addEventListener("change", () => ask());
  simulate.addEventListener("click", () => ask("POST"));
  ask();
})();
