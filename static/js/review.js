// The review queue from the keyboard: j/k (or the arrows) move between cards, a
// approves (or reapplies), r rejects, u undoes, x ticks a card for a bulk decision,
// ? shows the list. The keys press the card's own buttons, so each does exactly what
// a click does (htmx swaps the card in place). Ignored while typing in a field.
(function () {
  const ACTIONS = { a: "approve", r: "reject", u: "undo" };

  function cards() {
    return Array.from(document.querySelectorAll("[data-proposal]"));
  }

  // The card last in focus, by id: a card being swapped for its fresh copy loses the
  // focus for a moment, and a key pressed then still means that card.
  let lastId = null;
  document.addEventListener("focusin", (event) => {
    const card = event.target.closest && event.target.closest("[data-proposal]");
    lastId = card ? card.id : null;
  });

  function current() {
    const active = document.activeElement;
    const card = active ? active.closest("[data-proposal]") : null;
    if (card) return card;
    const nothingFocused = !active || active === document.body;
    return nothingFocused && lastId ? document.getElementById(lastId) : null;
  }

  function focusCard(card) {
    if (!card) return;
    card.focus({ preventScroll: true });
    card.scrollIntoView({ block: "nearest", behavior: "smooth" });
  }

  function move(step) {
    const all = cards();
    if (!all.length) return;
    const index = all.indexOf(current());
    const next = index < 0 ? (step > 0 ? 0 : all.length - 1) : index + step;
    focusCard(all[Math.max(0, Math.min(all.length - 1, next))]);
  }

  function typing(target) {
    return (
      target instanceof HTMLElement &&
      (target.isContentEditable || target.closest("input, textarea, select, [contenteditable]"))
    );
  }

  function toggleHelp() {
    const dialog = document.getElementById("review-keys");
    if (!dialog) return;
    if (dialog.open) dialog.close();
    else dialog.showModal();
  }

  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) return;
    if (!document.querySelector("[data-proposal]") && event.key !== "?") return;
    const card = current();
    if (event.key === "?") {
      toggleHelp();
    } else if (event.key === "j" || (event.key === "ArrowDown" && card)) {
      move(1);
    } else if (event.key === "k" || (event.key === "ArrowUp" && card)) {
      move(-1);
    } else if (event.key === "x" && card) {
      const box = card.querySelector("[data-row-check]");
      if (!box) return;
      box.click();
    } else if (ACTIONS[event.key] && card) {
      const button = card.querySelector(`[data-review-action="${ACTIONS[event.key]}"]`);
      if (!button) return;
      // A card swapped in a moment ago may not be wired up by htmx yet; a click then
      // would post the form as a page (it works, but leaves the queue).
      if (window.htmx) htmx.process(card);
      button.click();
    } else {
      return;
    }
    event.preventDefault();
  });

  // A decided card is swapped for a fresh one: keep the focus on it, so the next key
  // (u to undo, j to go on) acts where the person is.
  let swapping = null;
  document.addEventListener("htmx:beforeSwap", (event) => {
    const target = event.detail.target;
    const focused = target && target.contains(document.activeElement);
    swapping = target && target.matches("[data-proposal]") && (focused || target.id === lastId)
      ? target.id
      : null;
  });
  document.addEventListener("htmx:afterSettle", () => {
    if (!swapping) return;
    const card = document.getElementById(swapping);
    swapping = null;
    // Unless a key pressed meanwhile (j, k) moved on to another card.
    const active = document.activeElement;
    if (card && (!active || active === document.body)) card.focus({ preventScroll: true });
  });

  document.addEventListener("click", (event) => {
    if (event.target.closest("[data-review-keys]")) {
      toggleHelp();
      return;
    }
    // Cancel in the bulk confirmation clears it, rather than reloading the page.
    const cancel = event.target.closest("[data-dismiss-dialog]");
    const dialog = cancel && cancel.closest("#review-dialog");
    if (dialog) {
      event.preventDefault();
      dialog.replaceChildren();
    }
  });
})();
