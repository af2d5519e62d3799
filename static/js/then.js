// Time travel: the slider moves the moment. Letting go of it loads what was believed
// then into the panel (htmx; a plain page load without it) and rewrites the URL, so
// the address keeps the moment. The form itself works without any script.
(function () {
  const slider = document.getElementById("then-slider");
  if (!slider) return;
  const form = document.getElementById(slider.dataset.form);
  const field = form && form.elements.namedItem("at");
  const output = document.getElementById("then-slider-value");

  // Seconds since the epoch, as the slider holds them, to an instant in UTC.
  function instant(seconds) {
    return new Date(seconds * 1000).toISOString().replace(/\.\d{3}Z$/, "Z");
  }
  function say() {
    const text = instant(Number(slider.value)).replace("T", " ").replace("Z", " UTC");
    output.textContent = text;
    slider.setAttribute("aria-valuetext", text);
  }
  function urlFor(at) {
    const params = new URLSearchParams();
    for (const [name, value] of new FormData(form)) {
      if (name !== "at" && value) params.set(name, value);
    }
    params.set("at", at);
    return form.action + "?" + params.toString();
  }

  slider.addEventListener("input", say);
  slider.addEventListener("change", () => {
    const url = urlFor(instant(Number(slider.value)));
    if (!window.htmx) {
      window.location.assign(url);
      return;
    }
    htmx.ajax("GET", url, { target: "#then-panel", swap: "outerHTML" });
  });
  // The panel names its moment as the date field writes it, and the page's URL.
  document.addEventListener("htmx:afterSettle", () => {
    const panel = document.getElementById("then-panel");
    if (!panel) return;
    if (field && panel.dataset.at) field.value = panel.dataset.at;
    if (panel.dataset.url) history.replaceState({}, "", panel.dataset.url);
  });
  say();
})();
