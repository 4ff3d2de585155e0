// Voting without page loads: the vote goes out with fetch and comes back as a JSON reveal
// (the models' names) with the voter's next battle. The answers stay on screen with the
// names over them; "Next battle" (N or Enter) then swaps the next battle in. One request
// per vote, and no page to render (benchmarks/README.md, "Web load").
// Without JavaScript, or when the JSON answer fails, the form posts as a page: the same
// idempotency key, so a vote that did count is revealed again, never counted twice.
// A refusal the voter can act on (a rank missing, a vote limit) is said in place and the
// battle stays; any other refusal is the server's page, which says why.
// Keyboard: 1-4 press the vote buttons; N or Enter after a vote shows the next battle.
(function () {
  "use strict";
  document.documentElement.classList.add("keys"); // the key hints work: show them
  const section = document.getElementById("battle");
  const form = document.getElementById("vote-form");
  if (!section || !form) return;
  const heading = document.getElementById("heading");
  const buttons = form.querySelector(".vote-buttons");
  const reveal = document.getElementById("reveal");
  const next = document.getElementById("next-battle");
  const error = document.getElementById("vote-error");
  const count = document.getElementById("vote-count");
  const summary = document.getElementById("ranking-summary");
  const answers = [...form.querySelectorAll(".answer")];
  const hint = summary ? summary.textContent : "";
  const letter = (position) => String.fromCharCode(65 + position);
  let upcoming = null; // the next battle, come with the reveal
  let sending = false;
  let revealed = section.classList.contains("revealed");
  let countdown = null;

  // K-wise: a rank per answer (null where none is picked yet).
  function ranks() {
    return answers.map((_, position) => {
      const picked = form.querySelector(`input[name="rank_${position}"]:checked`);
      return picked ? Number(picked.value) : null;
    });
  }

  function unranked() {
    return ranks().flatMap((rank, position) => (rank === null ? [letter(position)] : []));
  }

  // The ranking as the voter builds it, ties spelled out: "B > A = C > D".
  function describe() {
    if (!summary) return;
    const given = ranks();
    const levels = [...new Set(given.filter((r) => r !== null))].sort((a, b) => a - b);
    if (!levels.length) {
      summary.textContent = hint;
      return;
    }
    const tiers = levels.map((level) =>
      given.flatMap((r, position) => (r === level ? [letter(position)] : [])));
    const missing = unranked();
    const ties = tiers.filter((tier) => tier.length > 1).map((tier) => tier.join(" and "));
    summary.textContent = `Your ranking: ${tiers.map((t) => t.join(" = ")).join(" > ")}` +
      (ties.length ? ` (${ties.join(", ")} tied)` : "") +
      (missing.length ? ` · still to rank: ${missing.join(", ")}` : "");
  }

  function say(message) {
    error.textContent = message;
    error.hidden = !message;
  }

  // The place each answer got, by position, as the server words it (views/voting.py).
  function places(data) {
    const { models, ranking, both_bad: bothBad } = data;
    if (ranking.length < 2) return models.map(() => (bothBad ? "both bad" : "tie"));
    const place = {};
    let above = 0;
    ranking.forEach((tier) => {
      tier.forEach((name) => { place[name] = (tier.length > 1 ? "tied " : "") + ordinal(above + 1); });
      above += tier.length;
    });
    if (models.length === 2) return models.map((m) => (place[m] === "1st" ? "your pick" : ""));
    return models.map((m) => place[m]);
  }

  function ordinal(n) {
    const teen = n % 100 >= 10 && n % 100 <= 20;
    return n + (teen ? "th" : { 1: "st", 2: "nd", 3: "rd" }[n % 10] || "th");
  }

  function showReveal(data) {
    clearInterval(countdown);
    say("");
    const placed = places(data.reveal);
    answers.forEach((article, position) => {
      const model = article.querySelector(".model");
      model.querySelector(".name").textContent = data.reveal.models[position];
      model.querySelector(".place").textContent = placed[position];
      model.hidden = false;
      article.classList.toggle("winner", placed[position] === "your pick" || placed[position] === "1st");
    });
    const tiers = data.reveal.ranking.map((tier) => tier.join(" = ")).join(" > ");
    document.getElementById("verdict").textContent =
      `Your verdict: ${tiers}${data.reveal.both_bad ? " (both bad)" : ""}`;
    const votes = Number(count.textContent) + 1;
    count.textContent = String(votes);
    document.getElementById("tally").textContent = `your ${ordinal(votes)} vote`;
    upcoming = data.next;
    next.href = data.next ? data.next.url : data.url;
    heading.textContent = "Thanks for your vote";
    document.title = "Result · Arena";
    setRevealed(true);
    next.focus({ preventScroll: true });
  }

  function setRevealed(state) {
    revealed = state;
    section.classList.toggle("revealed", state);
    buttons.hidden = state;
    reveal.hidden = !state;
  }

  // Swaps the next battle in; false when it does not fit this page (another number of
  // answers), and the link then loads it as a page.
  function showNext() {
    if (!upcoming || upcoming.answers_html.length !== answers.length) return false;
    section.querySelector(".prompt .answer-body").innerHTML = upcoming.prompt_html;
    answers.forEach((article, position) => {
      // Rendered and sanitised by the server; the last battle's names go with the reveal.
      article.querySelector(".answer-body").innerHTML = upcoming.answers_html[position];
      article.querySelector(".model").hidden = true;
      article.querySelectorAll(".model span").forEach((span) => { span.textContent = ""; });
      article.classList.remove("winner");
    });
    form.elements.battle.value = upcoming.battle;
    form.elements.idempotency_key.value = upcoming.idempotency_key;
    form.querySelectorAll("input[type=radio]").forEach((radio) => { radio.checked = false; });
    document.getElementById("verdict").textContent = "";
    document.getElementById("tally").textContent = "";
    history.replaceState(null, "", next.href);
    upcoming = null;
    sending = false;
    say("");
    describe();
    heading.textContent = section.dataset.ask;
    document.title = "Vote · Arena";
    setRevealed(false);
    window.scrollTo(0, 0);
    document.getElementById("prompt").focus({ preventScroll: true });
    return true;
  }

  next.addEventListener("click", (event) => {
    if (showNext()) event.preventDefault(); // else the link loads the next battle
  });

  // Past a vote limit: the battle stays, the buttons wait until voting opens again.
  function closeFor(seconds, message) {
    clearInterval(countdown);
    const opens = Date.now() + seconds * 1000;
    const at = new Date(opens).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
    form.querySelectorAll("button").forEach((button) => { button.disabled = true; });
    const tick = () => {
      const left = Math.ceil((opens - Date.now()) / 1000);
      if (left > 0) {
        say(`Not counted: ${message}. Voting opens again at ${at} (in ${left} s); this battle waits for you.`);
        return;
      }
      clearInterval(countdown);
      form.querySelectorAll("button").forEach((button) => { button.disabled = false; });
      say("Voting is open again: your vote on this battle is welcome.");
    };
    tick();
    countdown = setInterval(tick, 1000);
  }

  function submitAsPage(submitter) {
    if (submitter && submitter.name) {
      const field = document.createElement("input");
      field.type = "hidden";
      field.name = submitter.name;
      field.value = submitter.value;
      form.append(field);
    }
    HTMLFormElement.prototype.submit.call(form);
  }

  form.addEventListener("change", () => {
    describe(); // which says what is still to rank
    if (summary) say("");
  });

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (sending || revealed) return; // a second press: the first one's answer is on its way
    const missing = summary ? unranked() : [];
    if (missing.length) {
      say(missing.length === answers.length
        ? "Nothing ranked yet: pick a rank for every answer (1st is best)."
        : `Pick a rank for every answer: ${missing.join(", ")} ${missing.length === 1 ? "has" : "have"} none yet.`);
      form.querySelector(`input[name="rank_${missing[0].charCodeAt(0) - 65}"]`).focus();
      return;
    }
    if (summary && new Set(ranks()).size === 1) {
      say("Not counted: every answer has the same rank, which ranks nothing: put one above another.");
      return;
    }
    sending = true;
    const fields = new FormData(form);
    if (event.submitter && event.submitter.name) {
      fields.append(event.submitter.name, event.submitter.value);
    }
    let response = null;
    try {
      response = await fetch(form.action, {
        method: "POST",
        body: new URLSearchParams(fields),
        headers: { Accept: "application/json" },
        credentials: "same-origin",
      });
      if (response.ok) {
        showReveal(await response.json());
        return;
      }
      const errors = (await response.json()).errors || {};
      if (errors.rate || errors.ranks) {
        sending = false;
        const message = (errors.rate || errors.ranks)[0];
        const retry = Number(response.headers.get("Retry-After"));
        if (errors.rate) closeFor(retry > 0 ? retry : 60, message);
        else say(`Not counted: ${message}.`);
        return;
      }
    } catch (failure) {
      // no JSON answer: the page below says what happened
    }
    submitAsPage(event.submitter);
  });

  // A battle loaded as a page has the focus, as one swapped in has: keys act on it, and a
  // screen reader starts at its prompt.
  if (!revealed) {
    document.getElementById("prompt").focus({ preventScroll: true });
  }

  // A refusal page past a vote limit counts down too.
  const retry = document.getElementById("retry-after");
  if (retry) closeFor(Number(retry.dataset.seconds), retry.dataset.message);

  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey || event.isComposing) return;
    if (revealed) {
      const other = event.target.closest && event.target.closest("a, button, input, select, textarea");
      const enter = event.key === "Enter" && (!other || other === next);
      if (event.key === "n" || event.key === "N" || enter) {
        event.preventDefault(); // an Enter on the link would follow it as well
        next.click();
      }
      return;
    }
    if (sending) return;
    const button = form.querySelector(`button[data-key="${event.key}"]`);
    if (button && !button.disabled) button.click();
  });
})();
