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

  // Elements with a live Vega view; views of charts that left the page (instant
  // navigation swaps the content) are finalized so their listeners go away.
  var live = [];

  function release(el) {
    if (el.__atlasEmbed) {
      el.__atlasEmbed.finalize();
      el.__atlasEmbed = null;
    }
    live = live.filter(function (other) {
      return other !== el;
    });
  }

  function releaseDetached() {
    live.slice().forEach(function (el) {
      if (!el.isConnected) release(el);
    });
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
    var token = (el.__atlasToken || 0) + 1;
    el.__atlasToken = token;
    release(el);
    el.setAttribute("data-rendered", "pending");
    return window
      .vegaEmbed(el, spec, {
        renderer: el.getAttribute("data-renderer") === "canvas" ? "canvas" : "svg",
        actions: false,
        config: themeConfig(dark),
        tooltip: { theme: dark ? "dark" : "light" },
      })
      .then(function (result) {
        if (el.__atlasToken !== token) {
          result.finalize(); // a newer render of this chart (scheme toggled) took over
          return;
        }
        el.__atlasEmbed = result;
        live.push(el);
        el.setAttribute("data-theme", dark ? "dark" : "light");
        el.setAttribute("data-rendered", "true");
      })
      .catch(function (err) {
        if (el.__atlasToken === token) showError(el, err);
      });
  }

  function onScreen(el) {
    var box = el.getBoundingClientRect();
    return el.offsetParent !== null && box.bottom > 0 && box.top < window.innerHeight;
  }

  function renderAll() {
    // Charts already drawn (or being drawn) are left alone: start() may run twice.
    var charts = Array.prototype.slice.call(
      document.querySelectorAll(".atlas-chart[data-spec]:not([data-rendered])")
    );
    charts.forEach(function (el) {
      el.setAttribute("data-rendered", "queued");
    });
    // The charts in view first, then the rest one at a time, yielding between charts
    // so the page paints and stays responsive while a long page fills in.
    var first = charts.filter(onScreen);
    var rest = charts.filter(function (el) {
      return first.indexOf(el) < 0;
    });
    return Promise.all(first.map(render)).then(function () {
      return rest.reduce(function (done, el) {
        return done.then(function () {
          return new Promise(function (resolve) {
            setTimeout(resolve, 0);
          }).then(function () {
            return render(el);
          });
        });
      }, Promise.resolve());
    });
  }

  function rerenderOnSchemeChange() {
    if (!document.body || document.body.__atlasObserved) return;
    document.body.__atlasObserved = true;
    new MutationObserver(function () {
      var wanted = isDark() ? "dark" : "light";
      // Queued charts read the scheme when their turn comes; drawn ones are redrawn.
      document.querySelectorAll('.atlas-chart[data-rendered="true"]').forEach(function (el) {
        if (el.getAttribute("data-theme") !== wanted) render(el);
      });
    }).observe(document.body, { attributes: true, attributeFilter: ["data-md-color-scheme"] });
  }

  function start() {
    releaseDetached();
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
