// The live monitor (/admin/monitor/): counters, sign-ins per minute by method and a live
// feed, kept current over a WebSocket (console/monitor/consumers.py).
// No inline script (CSP script-src 'self'): the page hands over its words, its first
// snapshot and the socket's address as JSON blocks; every text from them is set through
// textContent, never as HTML.
(function () {
  "use strict";

  var root = document.querySelector("[data-monitor]");
  if (!root) return;

  function json(id) {
    var node = document.getElementById(id);
    try {
      return node ? JSON.parse(node.textContent) : null;
    } catch (error) {
      return null;
    }
  }

  var labels = json("monitor-labels") || {};
  var config = json("monitor-config") || {};
  var snapshot = json("monitor-snapshot");
  var feedRows = config.feedRows || 100;
  var COUNTED = {
    "user.signed_in": "sign_ins",
    "user.created": "sign_ups",
    "risk.challenged": "challenges",
    "consent.granted": "consent_changes",
    "consent.withdrawn": "consent_changes",
  };
  var MINUTE = 60 * 1000;
  // The highest outbox order the last snapshot counted: a live event at or below it is
  // already in the counters (it still shows in the feed).
  var throughSeq = 0;

  var stateNode = root.querySelector("[data-state]");
  var stateText = root.querySelector("[data-state-text]");
  var feed = root.querySelector("[data-feed]");
  var feedEmpty = root.querySelector("[data-feed-empty]");
  var chart = root.querySelector("[data-chart]");
  var legend = root.querySelector("[data-legend]");
  var axisFirst = root.querySelector("[data-axis-first]");
  var axisLast = root.querySelector("[data-axis-last]");
  var seen = new Set();
  var methodOrder = [];
  var language = document.documentElement.lang || undefined;

  function setState(name) {
    stateNode.setAttribute("data-state", name);
    stateText.textContent = (labels.states || {})[name] || name;
  }

  function methodLabel(method) {
    var names = labels.methods || {};
    if (names[method]) return names[method];
    if (method && method.indexOf("social:") === 0) {
      return (labels.socialPrefix || "Social") + " (" + method.slice(7) + ")";
    }
    return method || names.other || "other";
  }

  function clock(iso) {
    var date = new Date(iso);
    if (isNaN(date.getTime())) return "";
    return date.toLocaleTimeString(language, { hour: "2-digit", minute: "2-digit", second: "2-digit" });
  }

  function shortClock(ms) {
    return new Date(ms).toLocaleTimeString(language, { hour: "2-digit", minute: "2-digit" });
  }

  // --- counters ----------------------------------------------------------------------

  function setCounter(name, value) {
    var node = root.querySelector('[data-counter="' + name + '"]');
    if (!node) return;
    node.textContent = value === null || value === undefined ? labels.unavailable || "n/a" : String(value);
    node.setAttribute("data-value", value === null || value === undefined ? "" : String(value));
  }

  function bump(name) {
    var node = root.querySelector('[data-counter="' + name + '"]');
    if (!node) return;
    var value = parseInt(node.getAttribute("data-value") || node.textContent, 10) || 0;
    setCounter(name, value + 1);
  }

  // --- the chart: one column per minute, stacked by method ----------------------------

  function methodIndex(method) {
    var index = methodOrder.indexOf(method);
    if (index === -1) {
      methodOrder.push(method);
      index = methodOrder.length - 1;
    }
    return index;
  }

  function drawChart() {
    if (!snapshot) return;
    var minutes = snapshot.minutes || [];
    var byMethod = snapshot.sign_ins_by_method || {};
    Object.keys(byMethod).forEach(methodIndex);
    var totals = minutes.map(function (_, slot) {
      return methodOrder.reduce(function (sum, method) {
        return sum + ((byMethod[method] || [])[slot] || 0);
      }, 0);
    });
    var max = Math.max.apply(null, [1].concat(totals));
    chart.replaceChildren();
    minutes.forEach(function (iso, slot) {
      var column = document.createElement("div");
      column.className = "monitor-column";
      column.title = clock(iso) + " · " + totals[slot];
      column.setAttribute("data-minute", iso);
      column.setAttribute("data-total", String(totals[slot]));
      methodOrder.forEach(function (method, index) {
        var count = (byMethod[method] || [])[slot] || 0;
        if (!count) return;
        var segment = document.createElement("span");
        segment.className = "monitor-segment monitor-color-" + (index % 7);
        segment.style.height = (100 * count) / max + "%";
        segment.title = methodLabel(method) + ": " + count;
        column.appendChild(segment);
      });
      chart.appendChild(column);
    });
    legend.replaceChildren();
    methodOrder.forEach(function (method, index) {
      var total = (byMethod[method] || []).reduce(function (a, b) { return a + b; }, 0);
      var item = document.createElement("li");
      var swatch = document.createElement("span");
      swatch.className = "monitor-swatch monitor-color-" + (index % 7);
      swatch.setAttribute("aria-hidden", "true");
      var text = document.createElement("span");
      text.textContent = methodLabel(method) + ": " + total;
      item.setAttribute("data-method", method);
      item.appendChild(swatch);
      item.appendChild(text);
      legend.appendChild(item);
    });
    if (minutes.length) {
      axisFirst.textContent = shortClock(Date.parse(minutes[0]));
      axisLast.textContent = shortClock(Date.parse(minutes[minutes.length - 1]));
    }
    var sum = totals.reduce(function (a, b) { return a + b; }, 0);
    chart.setAttribute(
      "aria-label",
      (document.getElementById("chart-title") || {}).textContent + ": " + (labels.total || "Total") + " " + sum
    );
  }

  // The index of the minute holding ``at`` (milliseconds) in the window, or -1.
  function slotOf(minutes, at) {
    if (isNaN(at) || !minutes.length) return -1;
    var start = at - (((at % MINUTE) + MINUTE) % MINUTE);
    var slot = minutes.length - 1 - Math.round((Date.parse(minutes[minutes.length - 1]) - start) / MINUTE);
    return slot >= 0 && slot < minutes.length ? slot : -1;
  }

  // Counts one sign-in into the current window, moving it on when a new minute began.
  function chartAdd(iso, method) {
    if (!snapshot || !snapshot.minutes || !snapshot.minutes.length) return;
    var at = Date.parse(iso);
    if (isNaN(at)) return;
    var minutes = snapshot.minutes;
    var byMethod = snapshot.sign_ins_by_method || (snapshot.sign_ins_by_method = {});
    var last = Date.parse(minutes[minutes.length - 1]);
    while (at >= last + MINUTE) {
      last += MINUTE;
      minutes.push(new Date(last).toISOString());
      minutes.shift();
      Object.keys(byMethod).forEach(function (key) {
        byMethod[key].push(0);
        byMethod[key].shift();
      });
    }
    var slot = slotOf(minutes, at);
    if (slot < 0) return;
    if (!byMethod[method]) byMethod[method] = minutes.map(function () { return 0; });
    byMethod[method][slot] += 1;
    drawChart();
  }

  // --- the feed ----------------------------------------------------------------------

  function detail(event) {
    if (event.method) return (labels.method || "Method") + ": " + methodLabel(event.method);
    if (event.kind) return (labels.kind || "Kind") + ": " + event.kind;
    if (event.field) return (labels.field || "Field") + ": " + event.field;
    return "";
  }

  function feedAdd(event) {
    if (!event || !event.id || seen.has(event.id)) return false;
    seen.add(event.id);
    var row = document.createElement("li");
    row.className = "monitor-row";
    row.setAttribute("data-type", event.type || "");
    if (event.seq !== undefined) row.setAttribute("data-seq", String(event.seq));
    if (event.method) row.setAttribute("data-method", event.method);
    var time = document.createElement("time");
    time.dateTime = event.time || "";
    time.textContent = clock(event.time);
    var what = document.createElement("span");
    what.className = "monitor-row-type";
    what.textContent = (labels.types || {})[event.type] || event.type || "";
    var more = document.createElement("span");
    more.className = "monitor-row-detail";
    more.textContent = detail(event);
    row.appendChild(time);
    row.appendChild(what);
    row.appendChild(more);
    if (event.subject) {
      var who = document.createElement("code");
      who.className = "monitor-row-subject";
      who.title = labels.customer || "Customer";
      who.textContent = event.subject;
      row.appendChild(who);
    }
    feed.insertBefore(row, feed.firstChild);
    while (feed.children.length > feedRows) {
      var gone = feed.lastChild;
      feed.removeChild(gone);
    }
    if (seen.size > feedRows * 20) seen = new Set(Array.from(seen).slice(-feedRows * 2));
    feedEmpty.hidden = true;
    return true;
  }

  // --- messages ----------------------------------------------------------------------

  function applySnapshot(message) {
    snapshot = message;
    throughSeq = parseInt(message.through_seq, 10) || 0;
    var counters = message.counters || {};
    Object.keys(counters).forEach(function (name) {
      setCounter(name, counters[name]);
    });
    setCounter("webhook_backlog", message.webhook_backlog);
    drawChart();
  }

  // The event happened inside the window the counters cover.
  function inWindow(iso) {
    var minutes = (snapshot && snapshot.minutes) || [];
    var at = Date.parse(iso);
    if (isNaN(at) || !minutes.length) return false;
    return at >= Date.parse(minutes[0]) && at < Math.max(Date.now(), Date.parse(minutes[minutes.length - 1]) + MINUTE);
  }

  function applyEvent(event) {
    if (!feedAdd(event)) return;
    var seq = parseInt(event.seq, 10);
    if (!isNaN(seq) && seq <= throughSeq) return;
    if (!inWindow(event.time)) return;
    var counter = COUNTED[event.type];
    if (counter) bump(counter);
    if (event.type === "user.signed_in") chartAdd(event.time, event.method || "other");
  }

  // --- the socket, reconnected with backoff --------------------------------------------

  var socket = null;
  var attempts = 0;
  var timer = null;
  var forbidden = false;
  // A 4403 is retried once with a fresh ticket (the ticket view answers for the session),
  // a second one in a row stops.
  var refusedOnce = false;

  // The socket's address carries no ticket (access logs keep URLs): it goes in the first
  // message.
  function address() {
    var scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
    return scheme + "//" + window.location.host + config.path;
  }

  // The page's own ticket serves its first socket; every reconnect asks the ticket view for
  // a fresh one (tickets are short-lived). Resolves to a ticket, or null when not allowed.
  var pageTicket = config.ticket || "";
  function freshTicket() {
    if (pageTicket) {
      var ticket = pageTicket;
      pageTicket = "";
      return Promise.resolve(ticket);
    }
    return window
      .fetch(config.ticketUrl, { credentials: "same-origin", headers: { Accept: "application/json" }, redirect: "manual" })
      .then(function (response) {
        if (response.status === 403 || response.type === "opaqueredirect" || (response.status >= 300 && response.status < 400)) {
          return null;
        }
        if (!response.ok) throw new Error("ticket " + response.status);
        return response.json().then(function (body) {
          if (!body || typeof body.ticket !== "string") return null;
          return body.ticket;
        });
      });
  }

  function refuse() {
    forbidden = true;
    setState("forbidden");
  }

  function schedule() {
    if (forbidden || timer) return;
    // 1 s, 2 s, 4 s ... up to 30 s, each with up to a third more at random (no herd).
    var delay = Math.min(30000, 1000 * Math.pow(2, attempts));
    delay += Math.random() * delay / 3;
    attempts += 1;
    setState("reconnecting");
    timer = window.setTimeout(function () {
      timer = null;
      connect();
    }, delay);
  }

  function connect() {
    if (forbidden) return;
    freshTicket().then(
      function (ticket) {
        if (ticket === null) refuse();
        else open(ticket);
      },
      function () {
        schedule();
      }
    );
  }

  function open(ticket) {
    try {
      socket = new WebSocket(address());
    } catch (error) {
      schedule();
      return;
    }
    socket.addEventListener("open", function () {
      socket.send(JSON.stringify({ kind: "hello", ticket: ticket }));
    });
    socket.addEventListener("message", function (message) {
      var data;
      try {
        data = JSON.parse(message.data);
      } catch (error) {
        return;
      }
      if (data && data.kind === "snapshot") {
        attempts = 0;
        refusedOnce = false;
        setState("live");
        applySnapshot(data);
      } else if (data && data.kind === "event") applyEvent(data.event || {});
    });
    socket.addEventListener("close", function (closed) {
      socket = null;
      // 4403: refused (signed out, ticket or right gone); anything else: try again (a
      // fresh ticket first, which tells a signed-out page apart).
      if (closed.code === 4403) {
        if (refusedOnce) {
          refuse();
          return;
        }
        refusedOnce = true;
      }
      schedule();
    });
  }

  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState !== "visible" || forbidden) return;
    if (socket && socket.readyState === WebSocket.OPEN) {
      socket.send(JSON.stringify({ kind: "snapshot" }));
    } else if (timer) {
      window.clearTimeout(timer);
      timer = null;
      connect();
    }
  });

  if (snapshot) applySnapshot(snapshot);
  setState("connecting");
  connect();
})();
