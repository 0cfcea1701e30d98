/* Renders every .atlas-chart[data-spec] with vegaEmbed, following the colour scheme.
 *
 * Runs on DOMContentLoaded and, with Material's instant navigation, on each page
 * swap (document$). Re-renders when the reader toggles light/dark. Marks each chart
 * data-rendered="true" when painted so tests can wait for it.
 */
(function () {
  "use strict";

  function isDark() {
    return document.body && document.body.getAttribute("data-md-color-scheme") === "slate";
  }

  function themeConfig(dark) {
    var themes = window.ATLAS_THEMES || {};
    return (dark ? themes.dark : themes.light) || {};
  }

  function showError(el, err) {
    el.setAttribute("data-rendered", "error");
    var box = document.createElement("p");
    box.className = "atlas-chart-error";
    box.textContent = "This chart could not be drawn: " + (err && err.message ? err.message : err);
    el.replaceChildren(box);
    console.error("atlas chart:", err);
  }

  function render(el) {
    if (typeof window.vegaEmbed !== "function") {
      showError(el, new Error("the chart library did not load"));
      return Promise.resolve();
    }
    var spec;
    try {
      spec = JSON.parse(el.getAttribute("data-spec"));
    } catch (err) {
      showError(el, err);
      return Promise.resolve();
    }
    var dark = isDark();
    if (el.__atlasView) {
      el.__atlasView.finalize();
      el.__atlasView = null;
    }
    el.setAttribute("data-rendered", "pending");
    return window
      .vegaEmbed(el, spec, {
        renderer: el.getAttribute("data-renderer") === "canvas" ? "canvas" : "svg",
        actions: false,
        config: themeConfig(dark),
        tooltip: { theme: dark ? "dark" : "light" },
      })
      .then(function (result) {
        el.__atlasView = result.view;
        el.setAttribute("data-theme", dark ? "dark" : "light");
        el.setAttribute("data-rendered", "true");
      })
      .catch(function (err) {
        showError(el, err);
      });
  }

  function renderAll() {
    // Charts already drawn (or being drawn) are left alone: start() may run twice.
    var charts = document.querySelectorAll(".atlas-chart[data-spec]:not([data-rendered])");
    return Promise.all(Array.prototype.map.call(charts, render));
  }

  function rerenderOnSchemeChange() {
    if (!document.body || document.body.__atlasObserved) return;
    document.body.__atlasObserved = true;
    new MutationObserver(function () {
      var wanted = isDark() ? "dark" : "light";
      document.querySelectorAll(".atlas-chart[data-spec]").forEach(function (el) {
        if (el.getAttribute("data-theme") !== wanted) render(el);
      });
    }).observe(document.body, { attributes: true, attributeFilter: ["data-md-color-scheme"] });
  }

  function start() {
    rerenderOnSchemeChange();
    renderAll();
  }

  // Material's document$ emits after every instant navigation, but never on file://,
  // so the first paint also listens for the ordinary load event.
  if (window.document$ && typeof window.document$.subscribe === "function") {
    window.document$.subscribe(start);
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
  window.atlasRenderAll = renderAll;
})();
