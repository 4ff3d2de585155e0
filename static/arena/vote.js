// Keyboard shortcuts for the vote buttons (1-4), and one submit per page: a second press
// would reuse the same idempotency key anyway, so the server would count it once.
(function () {
  "use strict";
  const form = document.getElementById("vote-form");
  if (!form) return;
  let sent = false;
  form.addEventListener("submit", (event) => {
    if (sent) event.preventDefault();
    sent = true;
  });
  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey || sent) return;
    const button = form.querySelector(`button[data-key="${event.key}"]`);
    if (button) button.click();
  });
})();
