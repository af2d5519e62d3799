// Row selection in the memory browser: click, shift-click for a range, select shown.
(function () {
  let lastChecked = null;

  function rowChecks() {
    return Array.from(document.querySelectorAll("[data-row-check]"));
  }

  function updateCount() {
    const counter = document.getElementById("selected-count");
    if (!counter) return;
    const all = document.getElementById("all-matching");
    const n = rowChecks().filter((box) => box.checked).length;
    counter.textContent = all && all.checked ? "all matching selected" : n + " selected";
  }

  document.addEventListener("click", (event) => {
    const box = event.target;
    if (!(box instanceof HTMLInputElement)) return;
    if (box.matches("[data-row-check]")) {
      if (event.shiftKey && lastChecked && lastChecked !== box) {
        const boxes = rowChecks();
        const [from, to] = [boxes.indexOf(lastChecked), boxes.indexOf(box)].sort((a, b) => a - b);
        boxes.slice(from, to + 1).forEach((b) => (b.checked = box.checked));
      }
      lastChecked = box;
    } else if (box.matches("[data-select-page]")) {
      rowChecks().forEach((b) => (b.checked = box.checked));
    }
    updateCount();
  });

  document.addEventListener("change", updateCount);
  document.addEventListener("htmx:afterSwap", updateCount);
})();
