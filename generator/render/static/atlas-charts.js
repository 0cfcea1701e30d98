/* Renders every .atlas-chart[data-spec] with vegaEmbed, following the colour scheme.
 *
 * Runs on DOMContentLoaded and, with Material's instant navigation, on each page
 * swap (document$). Re-renders when the reader toggles light/dark. Marks each chart
 * data-rendered="true" when painted so tests can wait for it, and records its own
 * render time (vegaEmbed called to drawn) in data-render-ms.
 *
 * Heads loaded on demand: a model view whose spec has usermeta.atlas.heads
 * ({src, file, heads, pick, at, values, key, status}) keeps only thumbnails inline.
 * When its picked head (the signal `at`, index layer * heads + head) changes, the
 * head's file src + file ("L{l}-H{h}.js", relative to the page) is loaded with a
 * <script src> tag (works from file:// and over http), which calls
 * atlasHeadData(layer, head, codes); the codes are then set into the params `values`
 * and `key` (= the head's index), and `status` says when a file could not be loaded.
 * Loaded heads are cached by URL, so a re-render (dark mode) shows them at once,
 * on the head the reader had open. data-head holds the index of the head last drawn
 * with its values. Large heads (usermeta.atlas.heads.exact) are drawn as one image,
 * made here from the codes, and hovering it shows the cell under the pointer.
 *
 * A redraw keeps the values the reader set on a live panel's controls (params bound to
 * inputs), so switching light/dark does not reset them.
 *
 * A touch that travels (a scroll starting on a chart) is marked on its touchend
 * event, so that selections made "on touchend[!event.atlasTravelled]" ignore it.
 */
(function () {
  "use strict";

  // Material's dark scheme, or a notebook's dark theme (JupyterLab, VS Code).
  function isDark() {
    var body = document.body;
    if (!body) return false;
    return (
      body.getAttribute("data-md-color-scheme") === "slate" ||
      body.getAttribute("data-jp-theme-light") === "false" ||
      body.classList.contains("vscode-dark")
    );
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

  // ---- heads loaded on demand ------------------------------------------------------

  var headCodes = {}; // absolute file URL -> codes
  var headLoads = {}; // absolute file URL -> Promise of codes

  // Called by each per-head data file; document.currentScript says which file it is.
  window.atlasHeadData = function (layer, head, codes) {
    var script = document.currentScript;
    if (script && script.src && typeof codes === "string") headCodes[script.src] = codes;
  };

  function headUrl(meta, index) {
    var layer = Math.floor(index / meta.heads);
    var head = index % meta.heads;
    var file = String(meta.file).replace("{l}", layer).replace("{h}", head);
    return new URL(meta.src + file, document.baseURI).href;
  }

  function loadHead(url) {
    if (url in headCodes) return Promise.resolve(headCodes[url]);
    if (!headLoads[url]) {
      headLoads[url] = new Promise(function (resolve, reject) {
        var script = document.createElement("script");
        script.src = url;
        script.async = true;
        script.onload = function () {
          script.remove();
          if (url in headCodes) resolve(headCodes[url]);
          else reject(new Error("the file holds no head values"));
        };
        script.onerror = function () {
          script.remove();
          reject(new Error("the file could not be loaded"));
        };
        document.head.appendChild(script);
      }).finally(function () {
        delete headLoads[url];
      });
    }
    return headLoads[url];
  }

  function headMeta(spec) {
    var meta = spec && spec.usermeta && spec.usermeta.atlas && spec.usermeta.atlas.heads;
    var names = ["src", "file", "heads", "pick", "at", "values", "key", "status"];
    if (!meta || names.some(function (k) { return meta[k] === undefined; })) return null;
    return meta;
  }

  // Before embedding: open the head the reader had open, with its values if loaded.
  function restoreHead(el, spec, meta) {
    var index = el.__atlasHead;
    if (typeof index !== "number") return;
    var url = headUrl(meta, index);
    (spec.params || []).forEach(function (p) {
      if (p.name === meta.pick) {
        p.value = [{ l: Math.floor(index / meta.heads), h: index % meta.heads }];
      } else if (url in headCodes && p.name === meta.values) {
        p.value = headCodes[url];
      } else if (url in headCodes && p.name === meta.key) {
        p.value = index;
      } else if (url in headCodes && meta.exact && p.name === meta.exact.image) {
        p.value = headImage(url, meta.exact);
      }
    });
  }

  function followHeads(el, view, meta) {
    function show(index) {
      if (typeof index !== "number" || index < 0) return;
      el.__atlasHead = index;
      if (view.signal(meta.key) === index) {
        el.setAttribute("data-head", String(index));
        return;
      }
      var url = headUrl(meta, index);
      var file = url.slice(url.lastIndexOf("/") + 1);
      el.removeAttribute("data-head");
      if (!(url in headCodes)) view.signal(meta.status, "").runAsync();
      loadHead(url).then(
        function (codes) {
          if (el.__atlasEmbed && el.__atlasEmbed.view === view && view.signal(meta.at) === index) {
            if (meta.exact) view.signal(meta.exact.image, headImage(url, meta.exact));
            return view
              .signal(meta.values, codes)
              .signal(meta.key, index)
              .runAsync()
              .then(function () {
                el.setAttribute("data-head", String(index)); // drawn with its values
              });
          }
        },
        function (err) {
          console.warn("atlas chart: head values", url, err.message);
          if (el.__atlasEmbed && el.__atlasEmbed.view === view && view.signal(meta.at) === index) {
            var text = "Exact values unavailable (" + file + ": " + err.message + ")";
            view.signal(meta.status, text).runAsync();
          }
        }
      );
    }
    view.addSignalListener(meta.at, function (_, index) {
      show(index);
    });
    show(view.signal(meta.at));
    if (meta.exact) hoverExact(view, meta);
  }

  // ---- large heads as one image ---------------------------------------------------

  var headImages = {}; // absolute file URL -> PNG data URL of its codes

  // exact.colours holds 256 "rrggbb" (the colour of each code); "--" stays transparent.
  function headImage(url, exact) {
    if (url in headImages) return headImages[url];
    var codes = headCodes[url];
    var rgb = [];
    for (var k = 0; k < 768; k++) rgb.push(parseInt(exact.colours.substr(2 * k, 2), 16));
    var canvas = document.createElement("canvas");
    canvas.width = exact.m;
    canvas.height = exact.n;
    var context = canvas.getContext("2d");
    var image = context.createImageData(exact.m, exact.n);
    var px = image.data;
    for (var i = 0, size = exact.n * exact.m; i < size; i++) {
      var code = parseInt(codes.substr(2 * i, 2), 16);
      if (code >= 0) {
        px[4 * i] = rgb[3 * code];
        px[4 * i + 1] = rgb[3 * code + 1];
        px[4 * i + 2] = rgb[3 * code + 2];
        px[4 * i + 3] = 255;
      }
    }
    context.putImageData(image, 0, 0);
    headImages[url] = canvas.toDataURL("image/png");
    return headImages[url];
  }

  // The cell under the pointer, found from the image's place on the page (Vega makes
  // a mark without a tooltip non-interactive, so the pointer's item is not it); the
  // view's own tooltip handler shows it, as it shows the values of drawn cells.
  function hoverExact(view, meta) {
    var exact = meta.exact;
    var shown = false;
    function imageItem() {
      var hit = null;
      (function walk(node) {
        if (!node || hit) return;
        if (node.marktype === "image" && String(node.name).indexOf(exact.mark) === 0) {
          hit = (node.items || [])[0] || null;
          return;
        }
        (node.items || []).forEach(function (item) {
          (item.items || []).forEach(walk);
        });
      })(view.scenegraph().root);
      return hit;
    }
    function place(item) {
      var x = item.x || 0;
      var y = item.y || 0;
      for (var g = item.mark.group; g; g = g.mark && g.mark.group) {
        x += g.x || 0;
        y += g.y || 0;
      }
      var surface = view.container() && view.container().querySelector("canvas, svg");
      if (!surface) return null;
      var box = surface.getBoundingClientRect();
      var ratio = window.devicePixelRatio || 1;
      var drawn = surface.tagName === "CANVAS" ? surface.width / ratio : box.width;
      var scale = drawn ? box.width / drawn : 1;
      var origin = view.origin();
      var pad = view.padding();
      return {
        left: box.left + scale * (origin[0] + pad.left + x),
        top: box.top + scale * (origin[1] + pad.top + y),
        width: scale * (item.width || 0),
        height: scale * (item.height || 0),
      };
    }
    function cell(event) {
      var codes = view.signal(meta.values);
      var item = imageItem();
      var box = item && place(item);
      if (!box || !box.width || !box.height || typeof codes !== "string") return null;
      var c = Math.floor(((event.clientX - box.left) / box.width) * exact.m);
      var r = Math.floor(((event.clientY - box.top) / box.height) * exact.n);
      if (r < 0 || c < 0 || r >= exact.n || c >= exact.m) return null;
      var code = parseInt(codes.substr(2 * (r * exact.m + c), 2), 16);
      var value = {};
      value.Query = r + ": " + view.signal(exact.rows)[r];
      value.Key = c + ": " + view.signal(exact.cols)[c];
      value[exact.value] = code >= 0 ? (code * exact.step).toFixed(3) : "not finite";
      return value;
    }
    function tip(event, value) {
      var handler = view.tooltip();
      if (typeof handler === "function") handler.call(view, null, event, null, value);
      shown = value != null;
    }
    function follow(event, item) {
      var value = view.signal(meta.key) === view.signal(meta.at) ? cell(event) : null;
      if (value) tip(event, value);
      else if (shown && !(item && item.tooltip != null)) tip(event, null);
    }
    view.addEventListener("pointermove", follow);
    view.addEventListener("pointerdown", follow); // a tap, where nothing hovers
    // One listener per element, whichever view it holds now (re-renders replace views).
    var container = view.container();
    container.__atlasHideTip = function (event) {
      if (shown) tip(event, null);
    };
    if (!container.__atlasLeaveBound) {
      container.__atlasLeaveBound = true;
      container.addEventListener("pointerleave", function (event) {
        // A lifted finger leaves too: a tapped value stays until the next tap.
        if (event.pointerType !== "touch") container.__atlasHideTip(event);
      });
    }
  }

  // ---- taps, not scrolls ----------------------------------------------------------

  // Charts that pick on touchend ignore a touch whose event has atlasTravelled set
  // (e.g. "touchend[!event.atlasTravelled]"): a scroll that starts on the chart.
  // This listener sees the touch first (capture phase, before Vega's on the canvas)
  // and marks it when the finger moved more than TAP_SLOP pixels.
  var TAP_SLOP = 10;

  function guardTaps(el) {
    if (el.__atlasTapGuard) return;
    el.__atlasTapGuard = true;
    var start = null;
    var travelled = false;
    function far(e) {
      var t = e.changedTouches && e.changedTouches[0];
      return !start || !t || Math.hypot(t.clientX - start[0], t.clientY - start[1]) > TAP_SLOP;
    }
    var quiet = { capture: true, passive: true };
    el.addEventListener("touchstart", function (e) {
      var t = e.changedTouches && e.changedTouches[0];
      start = t ? [t.clientX, t.clientY] : null;
      travelled = false;
    }, quiet);
    el.addEventListener("touchmove", function (e) {
      travelled = travelled || far(e);
    }, quiet);
    el.addEventListener("touchend", function (e) {
      if (travelled || far(e)) e.atlasTravelled = true;
    }, quiet);
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

  // A redraw (the colour scheme changed) starts the controls of a live panel (params
  // bound to inputs, not selections) where the reader left them.
  function keepControls(el, spec) {
    var view = el.__atlasEmbed && el.__atlasEmbed.view;
    if (!view) return;
    (spec.params || []).forEach(function (p) {
      if (!p.bind || p.select) return;
      try {
        p.value = view.signal(p.name);
      } catch (err) {
        // not a signal of the drawn view: keep the spec's value
      }
    });
  }

  // ---- fitting the column -----------------------------------------------------------

  // A chart wider than its column is drawn again narrower, never scaled as a picture:
  // first side-by-side views are stacked, then every width, height and step is scaled
  // (text in cells with them), legends move under the chart, and axis labels keep
  // their size. The data, hence every tooltip, stays exact. A chart that still does
  // not fit at FIT_FLOOR scrolls inside its box (the CSS's last resort).
  var FIT_FLOOR = 0.35;
  var FIT_TRIES = 5;
  var NARROW = 600; // columns narrower than this get legends under the chart
  var SKIP = { params: 1, data: 1, datasets: 1, transform: 1, usermeta: 1, $schema: 1 };

  function drawnWidth(el) {
    var surface = el.querySelector(".vega-embed > svg, .vega-embed > canvas");
    return surface ? surface.getBoundingClientRect().width : 0;
  }

  function scaleSizes(node, scale) {
    if (Array.isArray(node)) {
      node.forEach(function (child) {
        scaleSizes(child, scale);
      });
      return;
    }
    if (!node || typeof node !== "object") return;
    Object.keys(node).forEach(function (key) {
      var value = node[key];
      if (SKIP[key]) return;
      if (key === "spacing" && typeof value === "number") {
        node[key] = Math.max(1, Math.round(value * scale));
        return;
      }
      if (key === "width" || key === "height") {
        if (typeof value === "number") node[key] = Math.max(4, Math.round(value * scale));
        else if (value && typeof value.step === "number") {
          value.step = Math.max(3, Math.round(value.step * scale * 10) / 10);
        }
        return;
      }
      scaleSizes(value, scale);
    });
    if (node.type === "text" && typeof node.fontSize === "number") {
      node.fontSize = Math.max(8, Math.round(node.fontSize * Math.max(scale, 0.7)));
    }
  }

  var VIEW_KEYS = ["mark", "layer", "hconcat", "vconcat", "concat", "facet", "repeat", "spec"];
  var measurer = null;

  function textWidth(text, font) {
    measurer = measurer || document.createElement("canvas").getContext("2d");
    measurer.font = font;
    return measurer.measureText(text).width;
  }

  // ``text`` (a string or lines) broken at spaces into lines at most ``room`` px wide.
  function wrapped(text, font, room) {
    var lines = [];
    [].concat(text).forEach(function (line) {
      var current = "";
      String(line).split(" ").forEach(function (word) {
        var longer = current ? current + " " + word : word;
        if (current && textWidth(longer, font) > room) {
          lines.push(current);
          current = word;
        } else {
          current = longer;
        }
      });
      lines.push(current);
    });
    return lines.length === 1 ? lines[0] : lines;
  }

  // Titles and subtitles of every view wrapped to the column (Vega never wraps them,
  // and a long one widens the whole chart).
  function wrapTitles(node, room, config) {
    if (Array.isArray(node)) {
      node.forEach(function (child) {
        wrapTitles(child, room, config);
      });
      return;
    }
    if (!node || typeof node !== "object") return;
    var isView = VIEW_KEYS.some(function (key) {
      return key in node;
    });
    if (isView && node.title) {
      var style = config.title || {};
      var family = style.font || config.font || "sans-serif";
      var title = typeof node.title === "object" && !Array.isArray(node.title)
        ? node.title
        : { text: node.title };
      var size = title.fontSize || style.fontSize || 13;
      var subSize = title.subtitleFontSize || style.subtitleFontSize || 12;
      var weight = title.fontWeight || style.fontWeight || "bold";
      var plain = function (value) {
        return [].concat(value).every(function (line) {
          return typeof line === "string";
        });
      };
      node.title = Object.assign({}, title);
      // On a narrow column a title starts at the chart's left edge, not the plot's.
      if (room < NARROW && !title.frame) node.title.frame = "bounds";
      if (plain(title.text)) node.title.text = wrapped(title.text, weight + " " + size + "px " + family, room);
      if (title.subtitle && plain(title.subtitle)) {
        node.title.subtitle = wrapped(title.subtitle, subSize + "px " + family, room);
      }
    }
    VIEW_KEYS.forEach(function (key) {
      if (key !== "mark" && node[key] && typeof node[key] === "object") {
        wrapTitles(node[key], room, config);
      }
    });
  }

  // ``spec`` in the form ``fit`` asks for (a copy; the original is left as it was).
  function shaped(spec, fit, config) {
    var out = JSON.parse(JSON.stringify(spec));
    if (fit.room > 0) wrapTitles(out, fit.room - 16, config); // less the view's padding
    if (fit.stack && out.hconcat) {
      out.vconcat = out.hconcat;
      delete out.hconcat;
      // A title that says where things are ("on the right") has a stacked version.
      var atlas = (out.usermeta && out.usermeta.atlas) || {};
      if (atlas.stacked_title) out.title = atlas.stacked_title;
    }
    if (fit.scale !== 1) {
      scaleSizes(out, fit.scale);
      // Facet headers (a grid's column labels) shrink a little with their cells.
      var header = Object.assign({}, (config && config.header) || {}, out.config && out.config.header);
      var size = Math.max(8, Math.round((header.labelFontSize || 11) * Math.max(fit.scale, 0.7)));
      out.config = out.config || {};
      out.config.header = Object.assign(header, { labelFontSize: size });
    }
    if (fit.room < NARROW) {
      out.config = out.config || {};
      var under = { orient: "bottom", columns: 1 }; // symbols one a line, under the chart
      out.config.legend = Object.assign(under, out.config.legend);
    }
    return out;
  }

  // The next form to try after a drawing ``width`` px wide in ``room`` px, or null when
  // it fits or nothing narrower is left. Widths grow linearly with the scale (the
  // plot) plus a fixed part (labels, legend): two drawings give both.
  function refit(spec, fit, width) {
    var room = fit.room;
    if (!(room > 0) || width <= room + 1) return null;
    if (!fit.stack && spec.hconcat) return { room: room, stack: true, scale: 1, seen: [] };
    var seen = fit.seen.concat([[fit.scale, width]]);
    if (fit.scale <= FIT_FLOOR || seen.length >= FIT_TRIES) return null;
    var scale = (fit.scale * room) / width;
    if (seen.length >= 2) {
      var a = seen[seen.length - 2];
      var b = seen[seen.length - 1];
      var perScale = (a[1] - b[1]) / (a[0] - b[0]);
      if (perScale > 0) scale = (room - 1 - (b[1] - perScale * b[0])) / perScale;
    }
    scale = Math.max(FIT_FLOOR, Math.min(scale, fit.scale * 0.97));
    return { room: room, stack: fit.stack, scale: scale, seen: seen };
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
    var meta = headMeta(spec);
    if (meta) restoreHead(el, spec, meta);
    keepControls(el, spec);
    var dark = isDark();
    var token = (el.__atlasToken || 0) + 1;
    el.__atlasToken = token;
    release(el);
    el.setAttribute("data-rendered", "pending");
    var started = performance.now();
    var room = el.clientWidth;
    // A redraw (scheme toggled) in the same column starts from the form that fitted.
    var fit = el.__atlasFit && el.__atlasFit.room === room
      ? el.__atlasFit
      : { room: room, stack: false, scale: 1, seen: [] };
    function draw() {
      return window
        .vegaEmbed(el, shaped(spec, fit, themeConfig(dark)), {
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
          var next = refit(spec, fit, drawnWidth(el));
          if (next) {
            result.finalize();
            fit = next;
            return draw();
          }
          el.__atlasFit = fit;
          el.__atlasEmbed = result;
          live.push(el);
          el.setAttribute("data-fit", fit.stack ? "stacked " + fit.scale.toFixed(2) : fit.scale.toFixed(2));
          el.setAttribute("data-theme", dark ? "dark" : "light");
          el.setAttribute("data-render-ms", String(Math.round(performance.now() - started)));
          el.setAttribute("data-rendered", "true");
          if (meta) followHeads(el, result.view, meta);
          guardTaps(el);
          watchWidth(el);
          refitIfMoved(el);
        });
    }
    return draw().catch(function (err) {
      if (el.__atlasToken === token) showError(el, err);
    });
  }

  // A column that changes width (a turned phone, a tab shown, a scroll bar that came
  // with the page's charts) gets its charts fitted anew. A column whose width follows
  // its chart could go back and forth: it is fitted anew at most REFITS times in a row.
  var REFITS = 3;

  function refitIfMoved(el) {
    var fit = el.__atlasFit;
    if (!el.isConnected || el.getAttribute("data-rendered") !== "true" || !fit) return;
    if (el.clientWidth === fit.room) {
      el.__atlasRefits = 0;
    } else if ((el.__atlasRefits || 0) < REFITS) {
      el.__atlasRefits = (el.__atlasRefits || 0) + 1;
      render(el);
    }
  }

  var widthWatcher = typeof ResizeObserver === "function"
    ? new ResizeObserver(function (entries) {
        entries.forEach(function (entry) {
          refitIfMoved(entry.target);
        });
      })
    : null;

  function watchWidth(el) {
    if (widthWatcher && !el.__atlasWatched) {
      el.__atlasWatched = true;
      widthWatcher.observe(el);
    }
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
    }).observe(document.body, {
      attributes: true,
      attributeFilter: ["data-md-color-scheme", "data-jp-theme-light", "class"],
    });
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
