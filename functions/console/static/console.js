// The Orchestration console: one page over the public API, with the key the person types in.
// No build step, no framework; graph layout by the bundled dagre. Every text from the API is
// put in the page as text (never as HTML).
(function () {
  "use strict";

  var KEY = "orchestration.apiKey";
  var BASE = location.pathname.replace(/\/console\/?$/, "");
  var PAGE = 20;
  // Watching a running execution: each read after the first is a long poll (If-None-Match with
  // the last ETag, waitSeconds): the API answers as soon as anything shown changes (the end of
  // the run within about 100 ms) or 304 when the wait is up, and the page asks again at once.
  var WATCH_WAIT_SECONDS = 20;
  var TERMINAL = { completed: true, failed: true, cancelled: true };
  var COLOURS = {
    pending: "#8c959f", running: "#0969da", completed: "#1a7f37",
    failed: "#cf222e", cancelled: "#9a6700", skipped: "#6e7781"
  };
  var timer = null;
  var held = null;  // the AbortController of a long poll in flight
  var generation = 0;  // bumped on every navigation: a late answer for an old page is dropped
  var view = document.getElementById("view");

  // -- helpers -----------------------------------------------------------------------------
  function el(tag, attrs) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      var v = attrs[k];
      if (v === null || v === undefined || v === false) return;
      if (k === "text") node.textContent = v;
      else if (k.slice(0, 2) === "on") node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v === true ? "" : v);
    });
    for (var i = 2; i < arguments.length; i++) {
      var child = arguments[i];
      if (child === null || child === undefined) continue;
      node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    }
    return node;
  }
  function svg(tag, attrs) {
    var node = document.createElementNS("http://www.w3.org/2000/svg", tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    return node;
  }
  function put(node) {
    var children = Array.prototype.slice.call(arguments, 1).filter(function (c) { return c !== null && c !== undefined; });
    node.replaceChildren.apply(node, children);
  }
  function badge(status) { return el("span", { "class": "badge " + status, text: status }); }
  function when(iso) { return iso ? new Date(iso).toLocaleString() : "—"; }
  function json(value) {
    if (value === null || value === undefined) return "";
    var text = JSON.stringify(value);
    return text.length > 400 ? text.slice(0, 400) + "…" : text;
  }
  function query(params) {
    var parts = [];
    Object.keys(params).forEach(function (k) {
      if (params[k] !== "" && params[k] !== null && params[k] !== undefined) {
        parts.push(encodeURIComponent(k) + "=" + encodeURIComponent(params[k]));
      }
    });
    return parts.length ? "?" + parts.join("&") : "";
  }
  function stopPolling() {
    if (timer) { clearTimeout(timer); timer = null; }
    if (held) { held.abort(); held = null; }
  }
  function show(title) {
    view.replaceChildren();
    document.title = title + " · Orchestration console";
    for (var i = 1; i < arguments.length; i++) if (arguments[i]) view.appendChild(arguments[i]);
  }
  function problemText(err) {
    var p = err.problem || {};
    var lines = [p.detail || p.title || err.message];
    (p.errors || []).forEach(function (e) { lines.push(e.field + ": " + e.message); });
    return lines.join("\n");
  }
  function failure(err) { return el("p", { "class": "error", role: "alert", text: problemText(err) }); }

  // -- the API -----------------------------------------------------------------------------
  // One request: {status, etag, data}; 304 Not Modified carries no data. Errors are thrown.
  function send(method, path, body, extra, signal) {
    var headers = { Authorization: "Bearer " + sessionStorage.getItem(KEY) };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    Object.keys(extra || {}).forEach(function (k) { headers[k] = extra[k]; });
    return fetch(BASE + path, {
      method: method, headers: headers, body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store", signal: signal
    }).then(function (res) {
      var etag = res.headers.get("ETag");
      if (res.status === 304) return { status: 304, etag: etag, data: null };
      return res.text().then(function (text) {
        var data = null;
        try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
        if (res.ok) return { status: res.status, etag: etag, data: data };
        var err = new Error((data && (data.detail || data.message || data.title)) || res.statusText);
        err.status = res.status;
        err.problem = data;
        if (res.status === 401 || res.status === 403) signOut("The API key was refused: " + err.message);
        throw err;
      });
    });
  }
  function api(method, path, body) {
    return send(method, path, body).then(function (answer) { return answer.data; });
  }

  // -- sign in -----------------------------------------------------------------------------
  function signedIn() { return !!sessionStorage.getItem(KEY); }
  function signOut(message) {
    stopPolling();
    sessionStorage.removeItem(KEY);
    document.getElementById("signin-error").textContent = message || "";
    route();
  }
  document.getElementById("signin-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var input = document.getElementById("apikey");
    var key = input.value.trim();
    if (!key) return;
    sessionStorage.setItem(KEY, key);
    api("GET", "/workflows?limit=1").then(function () {
      input.value = "";
      document.getElementById("signin-error").textContent = "";
      if (!location.hash || location.hash === "#/") location.hash = "#/workflows";
      else route();
    }, function (err) {
      sessionStorage.removeItem(KEY);
      document.getElementById("signin-error").textContent = "Sign-in failed: " + err.message;
    });
  });
  document.getElementById("signout").addEventListener("click", function () { signOut(""); });

  // -- graph -------------------------------------------------------------------------------
  function graph(tasks, statuses, label) {
    var g = new dagre.graphlib.Graph();
    g.setGraph({ rankdir: "LR", nodesep: 24, ranksep: 56, marginx: 16, marginy: 16 });
    g.setDefaultEdgeLabel(function () { return {}; });
    tasks.forEach(function (t) {
      g.setNode(t.name, { width: Math.max(90, 8 * t.name.length + 36), height: 38 });
    });
    tasks.forEach(function (t) {
      (t.dependsOn || []).forEach(function (d) { if (g.hasNode(d)) g.setEdge(d, t.name); });
    });
    dagre.layout(g);
    var size = g.graph();
    var root = svg("svg", {
      width: Math.ceil(size.width), height: Math.ceil(size.height),
      viewBox: "0 0 " + Math.ceil(size.width) + " " + Math.ceil(size.height),
      role: "img", "aria-label": label
    });
    var defs = svg("defs");
    var marker = svg("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto" });
    marker.appendChild(svg("path", { d: "M0,0 L10,5 L0,10 z", fill: "#8c959f" }));
    defs.appendChild(marker);
    root.appendChild(defs);
    g.edges().forEach(function (e) {
      var pts = g.edge(e).points.map(function (p) { return p.x + "," + p.y; }).join(" ");
      root.appendChild(svg("polyline", { "class": "edge", points: pts, "marker-end": "url(#arrow)" }));
    });
    g.nodes().forEach(function (name) {
      var n = g.node(name);
      var status = statuses[name] || "pending";
      var group = svg("g", { "class": "node", "data-task": name, "data-status": status });
      var title = svg("title");
      title.textContent = name + ": " + status;
      group.appendChild(title);
      group.appendChild(svg("rect", {
        x: n.x - n.width / 2, y: n.y - n.height / 2, width: n.width, height: n.height,
        rx: 6, fill: COLOURS[status] || COLOURS.pending
      }));
      var text = svg("text", { x: n.x, y: n.y + 4, "text-anchor": "middle" });
      text.textContent = name;
      group.appendChild(text);
      root.appendChild(group);
    });
    var legend = el("p", { "class": "legend" });
    Object.keys(COLOURS).forEach(function (s) { legend.appendChild(badge(s)); });
    return el("div", null, el("div", { "class": "graph", tabindex: "0", "aria-label": label }, root), legend);
  }

  // -- pages -------------------------------------------------------------------------------
  function workflowsPage(params) {
    var status = params.get("status") || "";
    var q = params.get("q") || "";
    var offset = parseInt(params.get("offset") || "0", 10) || 0;
    var search = el("input", { id: "q", type: "search", value: q, placeholder: "part of a name" });
    var filter = el("select", { id: "status" });
    [["", "any"], ["draft", "draft"], ["active", "active"], ["inactive", "inactive"]].forEach(function (o) {
      filter.appendChild(el("option", { value: o[0], selected: o[0] === status, text: o[1] }));
    });
    var form = el("form", { "class": "filters", role: "search", onsubmit: function (ev) {
      ev.preventDefault();
      location.hash = "#/workflows" + query({ q: search.value.trim(), status: filter.value });
    } },
      el("div", null, el("label", { "for": "q", text: "Name contains" }), search),
      el("div", null, el("label", { "for": "status", text: "Status" }), filter),
      el("div", null, el("button", { type: "submit", text: "Apply" })));
    filter.addEventListener("change", function () { form.requestSubmit(); });
    var body = el("div", null, el("p", { "class": "muted", text: "Loading…" }));
    show("Workflows", el("h1", { text: "Workflows" }), form, body);

    // Without a name: the API's paging. With one: the newest 1000 are read and searched here.
    var load = q ? scanWorkflows(status, q) : api("GET", "/workflows" + query({ status: status, limit: PAGE, offset: offset }))
      .then(function (page) { return { rows: page.workflows, total: page.total }; });
    load.then(function (result) {
      var rows = q ? result.rows.slice(offset, offset + PAGE) : result.rows;
      var table = el("table", null, el("thead", null, el("tr", null,
        el("th", { scope: "col", text: "Name" }), el("th", { scope: "col", text: "Status" }),
        el("th", { scope: "col", "class": "optional", text: "Version" }),
        el("th", { scope: "col", "class": "optional", text: "Updated" }))));
      var tbody = el("tbody");
      rows.forEach(function (wf) {
        tbody.appendChild(el("tr", null,
          el("td", null, el("a", { href: "#/workflows/" + encodeURIComponent(wf.id), text: wf.name })),
          el("td", null, badge(wf.status)),
          el("td", { "class": "optional", text: String(wf.version) }),
          el("td", { "class": "optional", text: when(wf.updatedAt) })));
      });
      table.appendChild(tbody);
      var last = Math.min(offset + rows.length, result.total);
      var pager = el("nav", { "class": "pager", "aria-label": "Pages" },
        el("button", { type: "button", disabled: offset === 0, text: "Previous",
          onclick: function () { location.hash = "#/workflows" + query({ q: q, status: status, offset: Math.max(0, offset - PAGE) }); } }),
        el("span", { text: result.total ? (offset + 1) + "–" + last + " of " + result.total : "No workflows" }),
        el("button", { type: "button", disabled: last >= result.total, text: "Next",
          onclick: function () { location.hash = "#/workflows" + query({ q: q, status: status, offset: offset + PAGE }); } }));
      put(body, el("div", { "class": "table-wrap" }, table), pager);
    }, function (err) { put(body, failure(err)); });
  }

  function scanWorkflows(status, q) {
    var found = [];
    var needle = q.toLowerCase();
    function next(token, seen) {
      return api("GET", "/workflows" + query({ status: status, limit: 100, nextToken: token })).then(function (page) {
        page.workflows.forEach(function (wf) { if (wf.name.toLowerCase().indexOf(needle) >= 0) found.push(wf); });
        seen += page.workflows.length;
        if (page.nextToken && seen < 1000) return next(page.nextToken, seen);
        return { rows: found, total: found.length };
      });
    }
    return next(null, 0);
  }

  function executionsTable(executions) {
    var table = el("table", null, el("thead", null, el("tr", null,
      el("th", { scope: "col", text: "Execution" }), el("th", { scope: "col", text: "Status" }),
      el("th", { scope: "col", text: "Started" }), el("th", { scope: "col", "class": "optional", text: "Ended" }),
      el("th", { scope: "col", "class": "optional", text: "Trigger" }))));
    var tbody = el("tbody");
    executions.forEach(function (ex) {
      tbody.appendChild(el("tr", null,
        el("td", null, el("a", { href: "#/executions/" + encodeURIComponent(ex.id), text: ex.id })),
        el("td", null, badge(ex.status)),
        el("td", { text: when(ex.startedAt) }),
        el("td", { "class": "optional", text: when(ex.completedAt) }),
        el("td", { "class": "optional", text: (ex.trigger && ex.trigger.type) || "api" })));
    });
    table.appendChild(tbody);
    return el("div", { "class": "table-wrap" }, table);
  }

  function schedulesTable(schedules, withWorkflow, changed) {
    var message = el("p", { "class": "error", role: "alert" });
    function act(sc, method, path, body, label) {
      return el("button", { type: "button", text: label, "aria-label": label + " schedule " + sc.id, onclick: function (ev) {
        ev.target.disabled = true;
        api(method, path, body).then(function (answer) {
          if (answer && answer.executionId) location.hash = "#/executions/" + encodeURIComponent(answer.executionId);
          else changed();
        }, function (err) { ev.target.disabled = false; message.textContent = problemText(err); });
      } });
    }
    var head = el("tr", null, el("th", { scope: "col", text: "Schedule" }));
    if (withWorkflow) head.appendChild(el("th", { scope: "col", "class": "optional", text: "Workflow" }));
    head.appendChild(el("th", { scope: "col", text: "State" }));
    head.appendChild(el("th", { scope: "col", text: withWorkflow ? "Next run" : "Upcoming runs" }));
    head.appendChild(el("th", { scope: "col", text: "Actions" }));
    var tbody = el("tbody");
    schedules.forEach(function (sc) {
      var path = "/schedules/" + encodeURIComponent(sc.id);
      var upcoming = sc.upcomingRunTimes ? sc.upcomingRunTimes.map(when).join("\n") : when(sc.nextRunAt);
      var row = el("tr", { "data-schedule": sc.id },
        el("td", null, el("code", { text: sc.cronExpression }), el("div", { "class": "muted", text: sc.timezone + " · " + sc.id })));
      if (withWorkflow) row.appendChild(el("td", { "class": "optional" }, el("a", { href: "#/workflows/" + encodeURIComponent(sc.workflowId), text: sc.workflowId })));
      row.appendChild(el("td", null, badge(sc.enabled ? "enabled" : "paused")));
      row.appendChild(el("td", { "class": "data", text: sc.enabled ? (upcoming || "—") : "—" }));
      row.appendChild(el("td", null, el("div", { "class": "actions" },
        sc.enabled ? act(sc, "PUT", path, { enabled: false }, "Pause") : act(sc, "PUT", path, { enabled: true }, "Resume"),
        act(sc, "POST", path + "/trigger", {}, "Trigger"))));
      tbody.appendChild(row);
    });
    return el("div", null, el("div", { "class": "table-wrap" }, el("table", null, el("thead", null, head), tbody)), message);
  }

  function schedulesPage(params) {
    var offset = parseInt(params.get("offset") || "0", 10) || 0;
    var body = el("div", null, el("p", { "class": "muted", text: "Loading…" }));
    show("Schedules", el("h1", { text: "Schedules" }), body);
    var gen = generation;
    api("GET", "/schedules" + query({ limit: PAGE, offset: offset })).then(function (page) {
      if (gen !== generation) return;
      var last = offset + page.schedules.length;
      put(body,
        page.schedules.length ? schedulesTable(page.schedules, true, function () { route(); }) : el("p", { "class": "muted", text: "No schedules." }),
        el("nav", { "class": "pager", "aria-label": "Pages" },
          el("button", { type: "button", disabled: offset === 0, text: "Previous",
            onclick: function () { location.hash = "#/schedules" + query({ offset: Math.max(0, offset - PAGE) }); } }),
          el("span", { text: page.total ? (offset + 1) + "–" + last + " of " + page.total : "" }),
          el("button", { type: "button", disabled: last >= page.total, text: "Next",
            onclick: function () { location.hash = "#/schedules" + query({ offset: offset + PAGE }); } })));
    }, function (err) { put(body, failure(err)); });
  }

  function workflowPage(id) {
    var body = el("div", null, el("p", { "class": "muted", text: "Loading…" }));
    show("Workflow", el("p", null, el("a", { href: "#/workflows", text: "← Workflows" })), body);
    Promise.all([
      api("GET", "/workflows/" + encodeURIComponent(id)),
      api("GET", "/executions" + query({ workflowId: id, limit: PAGE })),
      api("GET", "/schedules" + query({ workflowId: id, limit: PAGE })).then(function (page) {
        // Each schedule in full, for its upcoming run times.
        return Promise.all(page.schedules.map(function (sc) { return api("GET", "/schedules/" + encodeURIComponent(sc.id)); }));
      })
    ]).then(function (got) {
      var wf = got[0], list = got[1], scheds = got[2];
      var statuses = {};
      wf.tasks.forEach(function (t) { statuses[t.name] = t.status; });
      var message = el("p", { "class": "error", role: "alert" });
      var run = el("button", { type: "button", "class": "primary", text: "Run now", onclick: function () {
        run.disabled = true;
        api("POST", "/workflows/" + encodeURIComponent(id) + "/execute", { parameters: {} }).then(function (started) {
          location.hash = "#/executions/" + encodeURIComponent(started.executionId);
        }, function (err) { run.disabled = false; message.textContent = problemText(err); });
      } });
      document.title = wf.name + " · Orchestration console";
      put(body, 
        el("h1", { text: wf.name }),
        el("ul", { "class": "meta" },
          el("li", null, "Status ", badge(wf.status)),
          el("li", { text: "Version " + wf.version }),
          el("li", { text: wf.tasks.length + " tasks" }),
          el("li", { text: "Updated " + when(wf.updatedAt) })),
        wf.description ? el("p", { text: wf.description }) : null,
        el("div", { "class": "actions" }, run), message,
        el("h2", { text: "Graph (each task coloured by its latest run)" }),
        graph(wf.tasks, statuses, "Task graph of " + wf.name),
        el("h2", { text: "Schedules" }),
        scheds.length ? schedulesTable(scheds, false, function () { workflowPage(id); }) : el("p", { "class": "muted", text: "No schedules." }),
        el("h2", { text: "Executions" }),
        list.executions.length ? executionsTable(list.executions) : el("p", { "class": "muted", text: "No executions yet." }),
        list.total > list.executions.length ? el("p", { "class": "muted", text: "The newest " + list.executions.length + " of " + list.total + "." }) : null);
    }, function (err) { put(body, failure(err)); });
  }

  function executionPage(id) {
    var body = el("div", null, el("p", { "class": "muted", text: "Loading…" }));
    show("Execution", body);
    var workflow = null;
    var gen = generation;
    var etag = null;
    function refresh() {
      if (gen !== generation) return;
      var path = "/executions/" + encodeURIComponent(id);
      var controller = new AbortController();
      held = controller;
      send("GET", etag ? path + "?waitSeconds=" + WATCH_WAIT_SECONDS : path, undefined,
           etag ? { "If-None-Match": etag } : null, controller.signal).then(function (answer) {
        if (held === controller) held = null;
        if (answer.status === 304) return;  // nothing changed in the wait: ask again
        etag = answer.etag;
        var ex = answer.data;
        var wfLoad = workflow ? Promise.resolve(workflow) : api("GET", "/workflows/" + encodeURIComponent(ex.workflowId))
          .then(function (wf) { workflow = wf; return wf; }, function () { workflow = { id: ex.workflowId, name: ex.workflowId, tasks: [] }; return workflow; });
        return wfLoad.then(function (wf) { if (gen === generation) render(ex, wf); });
      }).then(function () {
        // At once after an answer; a server that sent no ETag cannot hold: then once a second.
        if (gen === generation && !done) { stopPolling(); timer = setTimeout(refresh, etag ? 0 : 1000); }
      }, function (err) {
        if (err && err.name === "AbortError") return;  // left the page, or an action asks again
        if (gen === generation) put(body, failure(err));
      });
    }
    var done = false;
    function act(verb) {
      return function (ev) {
        ev.target.disabled = true;
        api("POST", "/executions/" + encodeURIComponent(id) + "/" + verb).then(function () {
          stopPolling(); done = false; refresh();
        }, function (err) {
          ev.target.disabled = false;
          var msg = document.getElementById("action-error");
          if (msg) msg.textContent = problemText(err);
        });
      };
    }
    function render(ex, wf) {
      var statuses = {};
      ex.tasks.forEach(function (t) { statuses[t.name] = t.status; });
      var shape = wf.tasks.length ? wf.tasks : ex.tasks.map(function (t) { return { name: t.name, dependsOn: [] }; });
      var running = !TERMINAL[ex.status];
      done = !running;
      var table = el("table", null, el("thead", null, el("tr", null,
        el("th", { scope: "col", text: "Task" }), el("th", { scope: "col", text: "Status" }),
        el("th", { scope: "col", "class": "optional", text: "Started" }), el("th", { scope: "col", "class": "optional", text: "Ended" }),
        el("th", { scope: "col", text: "Attempts" }), el("th", { scope: "col", text: "Result or error" }))));
      var tbody = el("tbody");
      ex.tasks.forEach(function (t) {
        tbody.appendChild(el("tr", { "data-task": t.name },
          el("th", { scope: "row", text: t.name }), el("td", null, badge(t.status)),
          el("td", { "class": "optional", text: when(t.startedAt) }), el("td", { "class": "optional", text: when(t.completedAt) }),
          el("td", { text: String(t.attempts) }),
          el("td", { "class": "data", text: t.error ? json(t.error) : json(t.result) })));
      });
      table.appendChild(tbody);
      document.title = ex.id + " · Orchestration console";
      var focused = document.activeElement && document.activeElement.id;
      put(body, 
        el("p", null, el("a", { href: "#/workflows/" + encodeURIComponent(ex.workflowId), text: "← " + wf.name })),
        el("h1", null, "Execution ", el("span", { text: ex.id })),
        el("ul", { "class": "meta" },
          el("li", null, "Status ", el("span", { id: "execution-status" }, badge(ex.status))),
          el("li", { text: "Started " + when(ex.startedAt) }),
          el("li", { text: "Ended " + when(ex.completedAt) }),
          ex.redriveCount ? el("li", { text: "Redriven " + ex.redriveCount + "×" }) : null,
          running ? el("li", { "class": "muted", text: "Updates as it runs" }) : null),
        ex.error ? el("p", { "class": "error", text: (ex.error.error || "") + " " + (ex.error.cause || "") }) : null,
        el("div", { "class": "actions" },
          el("button", { id: "cancel", type: "button", "class": "danger", disabled: !running, text: "Cancel", onclick: act("cancel") }),
          el("button", { id: "redrive", type: "button", disabled: !(ex.status === "failed" || ex.status === "cancelled"), text: "Redrive", onclick: act("redrive") })),
        el("p", { id: "action-error", "class": "error", role: "alert" }),
        el("h2", { text: "Graph" }),
        graph(shape, statuses, "Task graph of execution " + ex.id),
        el("h2", { text: "Tasks" }),
        el("div", { "class": "table-wrap" }, table));
      // Each refresh redraws the page: keep the keyboard where it was.
      var again = focused && document.getElementById(focused);
      if (again && !again.disabled) again.focus({ preventScroll: true });
    }
    refresh();
  }

  // -- routing -----------------------------------------------------------------------------
  function route() {
    stopPolling();
    generation += 1;
    var signed = signedIn();
    document.getElementById("signin").hidden = signed;
    document.getElementById("nav").hidden = !signed;
    if (!signed) { view.replaceChildren(); document.title = "Sign in · Orchestration console"; document.getElementById("apikey").focus(); return; }
    var hash = location.hash.replace(/^#/, "") || "/workflows";
    var qs = hash.indexOf("?");
    var path = qs >= 0 ? hash.slice(0, qs) : hash;
    var params = new URLSearchParams(qs >= 0 ? hash.slice(qs + 1) : "");
    var parts = path.split("/").filter(Boolean).map(decodeURIComponent);
    if (parts[0] === "workflows" && parts[1]) workflowPage(parts[1]);
    else if (parts[0] === "executions" && parts[1]) executionPage(parts[1]);
    else if (parts[0] === "schedules") schedulesPage(params);
    else workflowsPage(params);
    document.getElementById("main").focus({ preventScroll: true });
  }
  window.addEventListener("hashchange", route);
  route();
})();
