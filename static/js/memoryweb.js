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

// Plotly charts drawn from a figure the server built (a json_script element), on load
// and after every htmx swap. A click on a point with a URL in its customdata follows
// it: through htmx into the chart's panel when the chart asks for it, else as a link.
(function () {
  function draw(root) {
    if (!window.Plotly) return;
    root.querySelectorAll("[data-plotly]").forEach((element) => {
      if (element.dataset.drawn) return;
      const source = document.getElementById(element.dataset.plotly);
      if (!source) return;
      const figure = JSON.parse(source.textContent);
      if (figure.points) figure.data = unpack(figure.points, figure.data);
      element.dataset.drawn = "1";
      Plotly.newPlot(element, figure.data, figure.layout, { responsive: true, displaylogo: false }).then(
        // When the chart was drawn, on the page's clock (the map benchmark reads it).
        () => performance.mark("chart-drawn", { detail: element.dataset.plotly }),
      );
      const rangeBase = element.dataset.plotlyRange;
      if (rangeBase) followRange(element, rangeBase);
      const pointBase = element.dataset.plotlyHover;
      if (pointBase) followPoints(element, pointBase);
      element.on("plotly_click", (event) => {
        const url = event.points && event.points[0] && event.points[0].customdata;
        if (pointBase && typeof url === "number") {
          window.location.assign(pointBase + url + "/");
          return;
        }
        if (typeof url !== "string") return;
        const panel = element.closest("[id]");
        if (element.dataset.plotlyClick === "recentre" && window.htmx && panel) {
          htmx.ajax("GET", url, { target: "#" + panel.id, swap: "outerHTML" }).then(() =>
            history.pushState({}, "", url),
          );
        } else {
          window.location.assign(url);
        }
      });
    });
  }
  // The embedding map sends its points once, as base64 typed arrays (see
  // apps/dashboard/views/maps.py): x and y in 16-bit steps between their bounds, a
  // category code or a quantized value per point, and the ordinals of the deleted
  // memories it skipped. Each trace takes the points of its code, or all of them.
  function bytesOf(text) {
    const raw = atob(text);
    const bytes = new Uint8Array(raw.length);
    for (let i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
    return bytes.buffer;
  }
  function typed(column) {
    if (column.u1 !== undefined) return new Uint8Array(bytesOf(column.u1));
    return new Uint16Array(bytesOf(column.u2));
  }
  function restored(column) {
    const steps = typed(column);
    const values = new Float32Array(steps.length);
    const step = (column.high - column.low) / 65535;
    for (let i = 0; i < steps.length; i++) values[i] = column.low + steps[i] * step;
    return values;
  }
  function unpack(points, traces) {
    const xs = restored(points.x);
    const ys = restored(points.y);
    const ordinals = new Uint32Array(points.count);
    const gaps = new Set(points.gaps);
    for (let i = 0, ordinal = 0; i < points.count; i++, ordinal++) {
      while (gaps.has(ordinal)) ordinal++;
      ordinals[i] = ordinal;
    }
    const codes = points.codes ? typed(points.codes) : null;
    const values = points.values ? restored(points.values) : null;
    return traces.map((trace) => {
      const { code, colour_from: colourFrom, ...drawn } = trace;
      let chosen = null;
      if (code !== undefined) {
        chosen = [];
        for (let i = 0; i < codes.length; i++) if (codes[i] === code) chosen.push(i);
      }
      const pick = (column) => (chosen ? Float32Array.from(chosen, (i) => column[i]) : column);
      drawn.x = pick(xs);
      drawn.y = pick(ys);
      drawn.customdata = chosen ? chosen.map((i) => ordinals[i]) : Array.from(ordinals);
      if (colourFrom === "codes") drawn.marker = { ...drawn.marker, color: Array.from(codes) };
      if (colourFrom === "values") drawn.marker = { ...drawn.marker, color: Array.from(values) };
      return drawn;
    });
  }
  // The embedding map names points by ordinal: hovering loads the memory's card,
  // a box or lasso selection loads the list of selected memories.
  function followPoints(element, pointBase) {
    let pending = null;
    element.on("plotly_hover", (event) => {
      const ordinal = event.points && event.points[0] && event.points[0].customdata;
      if (typeof ordinal !== "number" || !window.htmx) return;
      clearTimeout(pending);
      pending = setTimeout(() => {
        htmx.ajax("GET", pointBase + ordinal + "/", { target: "#hover-card", swap: "innerHTML", source: element });
      }, 120);
    });
    const selectUrl = element.dataset.plotlySelect;
    element.on("plotly_selected", (event) => {
      if (!selectUrl || !event || !window.htmx) return;
      const ordinals = event.points.map((p) => p.customdata).filter((o) => typeof o === "number");
      htmx.ajax("POST", selectUrl, {
        target: "#map-selection",
        swap: "innerHTML",
        source: element,
        values: { ordinals: ordinals.join(",") },
      });
    });
  }
  // The timeline: zooming (a drag across the chart) loads that range, and its list,
  // into the chart's panel; a double click (autorange) goes back to the whole range.
  function followRange(element, rangeBase) {
    element.on("plotly_relayout", (change) => {
      let url = null;
      if (change["xaxis.range[0]"] && change["xaxis.range[1]"]) {
        const joiner = rangeBase.includes("?") ? "&" : "?";
        // Wall-clock display time, to the second, as the chart shows it.
        const iso = (value) => String(value).replace(" ", "T").slice(0, 19);
        url =
          rangeBase + joiner + "start=" + encodeURIComponent(iso(change["xaxis.range[0]"])) +
          "&end=" + encodeURIComponent(iso(change["xaxis.range[1]"]));
      } else if (change["xaxis.autorange"]) {
        url = rangeBase;
      }
      const panel = element.closest("[id]");
      if (!url || !window.htmx || !panel) return;
      htmx.ajax("GET", url, { target: "#" + panel.id, swap: "outerHTML" }).then(() =>
        history.pushState({}, "", url),
      );
    });
  }
  window.addEventListener("load", () => draw(document));
  document.addEventListener("htmx:afterSettle", (event) => draw(event.target.parentNode || document));
})();

// Behaviour that would otherwise be inline handlers, which the Content-Security-Policy
// forbids: submit-on-change selects, confirmations before a form is sent, copy buttons.
(function () {
  document.addEventListener("change", (event) => {
    const field = event.target;
    if (field instanceof HTMLSelectElement && field.matches("[data-submit-on-change]")) {
      field.form.submit();
    }
  });
  document.addEventListener("submit", (event) => {
    const form = event.target;
    if (form instanceof HTMLFormElement && form.dataset.confirm && !confirm(form.dataset.confirm)) {
      event.preventDefault();
    }
  });
  document.addEventListener("click", (event) => {
    const button = event.target.closest("[data-copy-from]");
    if (!button) return;
    const source = document.getElementById(button.dataset.copyFrom);
    navigator.clipboard.writeText(source.value).then(() => {
      button.textContent = "Copied";
    });
  });
})();

// Keyboard shortcuts on every page (listed in templates/dashboard/_shortcuts.html): / goes
// to the page's search or filter field, j/k walk the rows of a list ([data-keynav]) and
// Enter opens the row in focus, e opens the edit form ([data-shortcut-edit]), Ctrl+Enter
// or Cmd+Enter submits the form being typed in, ? shows the list. The listener is on
// window, so it runs after the document's: a page's own keys (review.js) win by calling
// preventDefault, and the same key is never handled twice.
(function () {
  function typing(target) {
    return (
      target instanceof HTMLElement &&
      (target.isContentEditable || target.closest("input, textarea, select, [contenteditable]"))
    );
  }

  function visible(element) {
    return element.getClientRects().length > 0;
  }

  // The first visible field, most specific kind first.
  function searchField() {
    const kinds = [
      "main [data-shortcut-search]",
      'main input[type="search"]',
      'main form[role="search"] :is(input:not([type="hidden"]), select)',
      'main form[method="get"] :is(input:not([type="hidden"], [type="checkbox"], [type="radio"]), select)',
    ];
    for (const kind of kinds) {
      const field = Array.from(document.querySelectorAll(kind)).find(visible);
      if (field) return field;
    }
    return null;
  }

  function rows() {
    return Array.from(document.querySelectorAll("[data-keynav] > :not(.more)")).filter(visible);
  }

  function moveRow(step) {
    const all = rows();
    if (!all.length) return false;
    const active = document.activeElement;
    const index = all.indexOf(active && active.closest("[data-keynav] > *"));
    const next = index < 0 ? (step > 0 ? 0 : all.length - 1) : index + step;
    const row = all[Math.max(0, Math.min(all.length - 1, next))];
    if (!row.hasAttribute("tabindex")) row.tabIndex = -1;
    row.focus({ preventScroll: true });
    row.scrollIntoView({ block: "nearest" });
    return true;
  }

  // A row's own page, not one of its filter links (?actor=… in the audit log).
  function openRow(row) {
    const link = row.querySelector('a[href]:not([href^="?"])');
    if (!link) return false;
    link.click();
    return true;
  }

  function edit() {
    const target = document.querySelector("[data-shortcut-edit]");
    if (!target) return false;
    if (target instanceof HTMLDetailsElement) {
      target.open = true;
      const field = target.querySelector("textarea, input:not([type='hidden']), select");
      target.scrollIntoView({ block: "start" });
      if (field) field.focus({ preventScroll: true });
    } else {
      target.click();
    }
    return true;
  }

  // requestSubmit() fires the submit event htmx listens for, and passing the form's
  // first submit button sends its name and value, as pressing Enter in a field would.
  function submit(field) {
    const form = field.form || field.closest("form");
    if (!form) return false;
    const button = Array.from(form.elements).find(
      (element) => element.type === "submit" && !element.disabled,
    );
    form.requestSubmit(button || null);
    return true;
  }

  function toggleHelp() {
    const dialog = document.getElementById("shortcuts");
    if (!dialog) return false;
    if (dialog.open) dialog.close();
    else dialog.showModal();
    return true;
  }

  window.addEventListener("keydown", (event) => {
    if (event.defaultPrevented || event.altKey) return;
    const target = event.target;
    let done = false;
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      done = target instanceof HTMLElement && submit(target);
    } else if (event.ctrlKey || event.metaKey || typing(target)) {
      return;
    } else if (event.key === "/") {
      const field = searchField();
      if (field) field.focus();
      done = Boolean(field);
    } else if (event.key === "j" || event.key === "k") {
      done = moveRow(event.key === "j" ? 1 : -1);
    } else if (event.key === "Enter" && target instanceof Element && target.matches("[data-keynav] > *")) {
      done = openRow(target);
    } else if (event.key === "e") {
      done = edit();
    } else if (event.key === "?") {
      done = toggleHelp();
    }
    if (done) event.preventDefault();
  });

  document.addEventListener("click", (event) => {
    if (event.target.closest("[data-shortcuts-open]")) toggleHelp();
  });
})();

// Redacting from a memory's page: text selected in the content fills the redact form
// with the text and where it stands, in code points (as the server counts; a string's
// length in JavaScript counts UTF-16 units). Without script the text is typed instead.
(function () {
  function codePoints(text) {
    return Array.from(text).length;
  }

  function fillFromSelection() {
    const source = document.querySelector("[data-redact-source]");
    const form = document.querySelector("[data-redact-form]");
    const selection = window.getSelection();
    if (!source || !form || !selection || selection.isCollapsed || !selection.rangeCount) return;
    const range = selection.getRangeAt(0);
    if (!source.contains(range.startContainer) || !source.contains(range.endContainer)) return;
    const before = document.createRange();
    before.selectNodeContents(source);
    before.setEnd(range.startContainer, range.startOffset);
    const text = range.toString();
    const start = codePoints(before.toString());
    form.elements.namedItem("text").value = text;
    form.elements.namedItem("start").value = start;
    form.elements.namedItem("end").value = start + codePoints(text);
    const details = form.closest("details");
    if (details) details.open = true;
  }

  document.addEventListener("mouseup", fillFromSelection);
  document.addEventListener("keyup", (event) => {
    if (event.shiftKey) fillFromSelection();
  });
})();
