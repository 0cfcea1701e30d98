/* The site's search, loaded before Material's own script (Material's extra.polyfills).
 *
 * 1. Shapes: the build indexes "6 × 4" and "6×4" as the one term "6×4"; a query that
 *    writes a shape as "6x4", "6 x 4" or "6 × 4" is rewritten to it before it reaches
 *    the search worker, so every spelling finds the page.
 * 2. From disk: Chromium refuses to start a Web Worker on a page opened from file://,
 *    and Material then hides its search box. There the search worker's script runs in
 *    a hidden frame of the page's own origin instead, behind the same Worker interface;
 *    the index comes from search/search_index.js (written by the build beside
 *    search_index.json).
 * Every other worker is left alone.
 */
(function () {
  "use strict";

  var SEARCH_WORKER = /\/workers\/search\.[^/]*\.js$/;
  var SHAPE = /(^|[^\w.])(\d+)\s*[x×]\s*(\d+)(?![\w.])/gi;
  var QUERY = 2; // Material's message type for a query

  function shapeQuery(text) {
    return String(text).replace(SHAPE, "$1$2×$3");
  }

  // The worker's script in a hidden same-origin frame, answering like a Worker.
  function FrameWorker(url) {
    var worker = this;
    var listeners = [];
    var queue = [];
    var inner = null;
    function receive(data) {
      var event = { data: data, target: worker };
      setTimeout(function () {
        listeners.slice().forEach(function (fn) {
          fn.call(worker, event);
        });
        if (typeof worker.onmessage === "function") worker.onmessage(event);
      }, 0);
    }
    function deliver(data) {
      inner.dispatchEvent(new inner.MessageEvent("message", { data: data }));
    }
    this.onmessage = null;
    this.addEventListener = function (type, fn) {
      if (type === "message") listeners.push(fn);
    };
    this.removeEventListener = function (type, fn) {
      listeners = listeners.filter(function (other) {
        return other !== fn;
      });
    };
    this.postMessage = function (data) {
      if (inner) deliver(data);
      else queue.push(data);
    };
    var frame = document.createElement("iframe");
    frame.hidden = true;
    frame.setAttribute("aria-hidden", "true");
    frame.setAttribute("tabindex", "-1");
    frame.srcdoc = "<!doctype html><title>search</title>";
    frame.addEventListener(
      "load",
      function () {
        var win = frame.contentWindow;
        win.postMessage = receive; // what the worker posts comes back to the page
        var script = win.document.createElement("script");
        script.src = url;
        script.onload = function () {
          inner = win;
          queue.splice(0).forEach(deliver);
        };
        win.document.head.appendChild(script);
      },
      { once: true }
    );
    // Loaded in <head>: the frame joins the body once there is one.
    if (document.body) document.body.appendChild(frame);
    else document.addEventListener("DOMContentLoaded", function () {
      document.body.appendChild(frame);
    });
    this.terminate = function () {
      frame.remove();
    };
  }

  // Material's search worker, with shape queries rewritten on their way in.
  function SearchWorker(worker) {
    this.addEventListener = worker.addEventListener.bind(worker);
    this.removeEventListener = worker.removeEventListener.bind(worker);
    this.terminate = worker.terminate.bind(worker);
    this.postMessage = function (message) {
      if (message && message.type === QUERY && typeof message.data === "string") {
        message = { type: QUERY, data: shapeQuery(message.data) };
      }
      worker.postMessage(message);
    };
  }

  var NativeWorker = window.Worker;
  if (typeof NativeWorker !== "function") return;
  window.Worker = function (url, options) {
    var href = new URL(String(url), document.baseURI).href;
    if (!SEARCH_WORKER.test(href)) return new NativeWorker(url, options);
    var inner = location.protocol === "file:" ? new FrameWorker(href) : new NativeWorker(url, options);
    return new SearchWorker(inner);
  };
  window.atlasShapeQuery = shapeQuery;
})();
