// Trace view: keep the server-rendered trace list current as Logs arrive, and apply the
// filters without a page reload. Plain script, no build step, no dependencies.
(function () {
  "use strict";
  var POLL_MS = 1500;
  var main = document.getElementById("traces");
  var form = document.querySelector("form.filters");
  var live = document.getElementById("live");
  if (!main || !form || !window.fetch) return;
  document.documentElement.classList.add("js");
  var stamp = main.getAttribute("data-stamp") || "";
  var timer = null;
  var inFlight = false;
  var generation = 0; // bumped by a filter change: answers to older requests are ignored

  function fillBaseUrl() {
    var spans = main.querySelectorAll(".base-url");
    for (var i = 0; i < spans.length; i++) spans[i].textContent = window.location.origin;
  }

  function query() {
    var params = new URLSearchParams();
    var path = form.elements.path.value.trim();
    if (path) params.set("path", path);
    if (form.elements.errors.checked) params.set("errors", "1");
    return params;
  }

  function ids(selector, attr) {
    var out = {};
    var nodes = main.querySelectorAll(selector);
    for (var i = 0; i < nodes.length; i++) out[nodes[i].getAttribute(attr)] = true;
    return out;
  }

  function swap(html) {
    var open = ids("details.log[open]", "data-log-id");
    var before = ids("section.trace", "data-trace-id");
    var hadTraces = Object.keys(before).length > 0;
    main.innerHTML = html;
    var logs = main.querySelectorAll("details.log");
    for (var i = 0; i < logs.length; i++) {
      if (open[logs[i].getAttribute("data-log-id")]) logs[i].open = true;
    }
    if (hadTraces) {
      var traces = main.querySelectorAll("section.trace");
      for (var j = 0; j < traces.length; j++) {
        if (!before[traces[j].getAttribute("data-trace-id")]) traces[j].classList.add("fresh");
      }
    }
    fillBaseUrl();
  }

  function status(ok) {
    live.className = "live " + (ok ? "on" : "off");
    live.textContent = ok ? "live · " + new Date().toLocaleTimeString() : "stub not answering, retrying";
  }

  function refresh() {
    if (inFlight) return;
    inFlight = true;
    var gen = generation;
    var params = query();
    params.set("stamp", stamp);
    fetch("/_stub/traces?" + params.toString(), { cache: "no-store" })
      .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); })
      .then(function (data) {
        if (gen !== generation) return;
        if (data.changed) { swap(data.html); main.setAttribute("data-stamp", data.stamp); }
        stamp = data.stamp;
        status(true);
      })
      .catch(function () { status(false); })
      .then(function () { inFlight = false; schedule(gen === generation ? POLL_MS : 0); });
  }

  function schedule(ms) {
    clearTimeout(timer);
    timer = setTimeout(function () { if (document.hidden) schedule(POLL_MS); else refresh(); }, ms);
  }

  function filtersChanged() {
    var params = query();
    var url = window.location.pathname + (params.toString() ? "?" + params.toString() : "");
    window.history.replaceState(null, "", url);
    generation += 1;
    stamp = ""; // force a fresh render for the new filters
    schedule(inFlight ? POLL_MS : 150);
  }

  form.addEventListener("submit", function (e) { e.preventDefault(); filtersChanged(); });
  form.elements.path.addEventListener("input", filtersChanged);
  form.elements.errors.addEventListener("change", filtersChanged);
  fillBaseUrl();
  status(true);
  schedule(POLL_MS);
})();
