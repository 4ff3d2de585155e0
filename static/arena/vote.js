// Keyboard shortcuts for the vote buttons (1-4), and one submit per page: a second press
// would reuse the same idempotency key anyway, so the server would count it once.
// On the reveal, "Next battle" shows the next battle that came with it (no request); its
// link names that battle, so a reload or a browser without JavaScript finds it too.
(function () {
  "use strict";
  const form = document.getElementById("vote-form");
  if (!form) return;
  const next = document.getElementById("next-battle");
  const upcoming = document.getElementById("upcoming");
  if (next && upcoming) {
    next.addEventListener("click", (event) => {
      event.preventDefault();
      document.getElementById("reveal").hidden = true;
      upcoming.hidden = false;
      document.querySelector("h1").textContent = upcoming.dataset.heading;
      document.title = "Vote · Arena";
      history.replaceState(null, "", next.href);
      window.scrollTo(0, 0);
    });
  }
  let sent = false;
  form.addEventListener("submit", (event) => {
    if (sent) event.preventDefault();
    sent = true;
  });
  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey || sent) return;
    if (form.closest("[hidden]")) return; // the next battle, not shown yet
    const button = form.querySelector(`button[data-key="${event.key}"]`);
    if (button) button.click();
  });
})();
