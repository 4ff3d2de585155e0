// Voting without page loads: the vote goes out with fetch and comes back as a JSON reveal
// (the models' names) with the voter's next battle, which "Next battle" then shows. One
// request per vote, and no page to render (benchmarks/README.md, "Web load").
// Without JavaScript, or when the JSON answer fails, the form posts as a page: the same
// idempotency key, so a vote that did count is revealed again, never counted twice.
// Keyboard shortcuts: 1-4 press the vote buttons.
(function () {
  "use strict";
  const form = document.getElementById("vote-form");
  const battle = document.getElementById("battle");
  const reveal = document.getElementById("reveal");
  const next = document.getElementById("next-battle");
  if (!form || !battle || !reveal || !next) return;
  const heading = document.querySelector("h1");
  // Whether the battle section holds a battle this voter has not voted on yet.
  let waiting = !battle.hidden || !reveal.hidden;
  let sent = false;

  function show(section) {
    battle.hidden = section !== battle;
    reveal.hidden = section !== reveal;
    window.scrollTo(0, 0);
  }

  next.addEventListener("click", (event) => {
    if (!waiting) return; // the link loads the next battle
    event.preventDefault();
    sent = false;
    // The reveal names the last battle's models: gone before the next battle shows.
    reveal.querySelector("ul.reveal").replaceChildren();
    document.getElementById("verdict").textContent = "";
    heading.textContent = battle.dataset.heading;
    document.title = "Vote · Arena";
    history.replaceState(null, "", next.href);
    show(battle);
  });

  function letter(position) {
    return String.fromCharCode(65 + position);
  }

  function showReveal(data) {
    const list = reveal.querySelector("ul.reveal");
    list.replaceChildren(
      ...data.reveal.models.map((name, position) => {
        const item = document.createElement("li");
        const strong = document.createElement("strong");
        strong.textContent = name;
        item.append(`Answer ${letter(position)}: `, strong);
        return item;
      }),
    );
    const tiers = data.reveal.ranking.map((tier) => tier.join(" = ")).join(" > ");
    document.getElementById("verdict").textContent =
      `Your verdict: ${tiers}${data.reveal.both_bad ? " (both bad)" : ""}`;
    waiting = Boolean(data.next) && fill(data.next);
    next.href = data.next ? data.next.url : data.url;
    heading.textContent = "Thanks for your vote";
    document.title = "Result · Arena";
    show(reveal);
  }

  // Puts the next battle into the form; false when it does not fit (another number of
  // answers), and the link then loads it as a page.
  function fill(upcoming) {
    const bodies = form.querySelectorAll(".answer .answer-body");
    if (bodies.length !== upcoming.answers_html.length) return false;
    battle.querySelector(".prompt .answer-body").innerHTML = upcoming.prompt_html;
    upcoming.answers_html.forEach((html, position) => {
      bodies[position].innerHTML = html; // rendered and sanitised by the server
    });
    form.elements.battle.value = upcoming.battle;
    form.elements.idempotency_key.value = upcoming.idempotency_key;
    form.querySelectorAll("select").forEach((select) => {
      select.value = "";
    });
    return true;
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

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (sent) return; // a second press: the first one's answer is on its way
    sent = true;
    const fields = new FormData(form);
    if (event.submitter && event.submitter.name) {
      fields.append(event.submitter.name, event.submitter.value);
    }
    let data = null;
    try {
      const response = await fetch(form.action, {
        method: "POST",
        body: new URLSearchParams(fields),
        headers: { Accept: "application/json" },
        credentials: "same-origin",
      });
      if (response.ok) data = await response.json();
    } catch (error) {
      data = null;
    }
    if (data) showReveal(data);
    else submitAsPage(event.submitter); // the server's page says why, or reveals it
  });

  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey || sent || battle.hidden) return;
    const button = form.querySelector(`button[data-key="${event.key}"]`);
    if (button) button.click();
  });
})();
