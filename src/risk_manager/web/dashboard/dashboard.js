/* Risk Manager live dashboard (read-only). Plain script, no build step.
 *
 * Data: GET /api/history once per (re)connection (the day's P&L series and enforcement markers),
 * then Server-Sent Events on /events: "status" (the read model of every account, pushed when it
 * changes) and "log" (the day's newest audit rows). EventSource reconnects by itself; the history
 * is fetched again on each reconnection so a gap in the stream leaves no gap in the curve.
 * Countdowns and "now" tick here every second from the lockouts' `until` times.
 * Every time is shown in the daemon's configured zone, with its abbreviation (CST/CDT...).
 */
(function () {
  "use strict";

  var state = {
    zone: "UTC",
    skewMs: 0,          // daemon clock - browser clock, from each push's as_of
    accounts: {},       // id -> {status, el, chart, t[], realized[], net[], markers{id: row}}
    lastPush: 0,
    log: [],
  };
  var charts = {};      // id -> uPlot (exposed for tests as window.riskDashboard.charts)
  window.riskDashboard = { state: state, charts: charts };

  var COLORS = { net: "#58a6ff", realized: "#bc8cff", loss: "#f85149", target: "#3fb950", zero: "#2a3241" };
  var MARKER_COLORS = { flatten: "#f85149", lockout: "#f85149", close_position: "#d29922",
                        cancel_orders: "#d29922", place_stop: "#58a6ff", modify_stop: "#58a6ff",
                        unlock: "#3fb950" };
  // what the enforcer carries out at the broker (an outcome follows); the rest is done when decided
  var BROKER_KINDS = { flatten: 1, close_position: 1, cancel_orders: 1, place_stop: 1, modify_stop: 1 };
  var DONE_WHEN_DECIDED = { lockout: "locked", unlock: "unlocked" };
  var LIMIT_LINES = { daily_realized_loss: { label: "loss limit", color: COLORS.loss },
                      daily_realized_profit: { label: "profit target", color: COLORS.target } };

  // ---- formatting -------------------------------------------------------------------------------

  function esc(text) {
    return String(text == null ? "" : text).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }

  var formatters = {};
  function fmt(kind) {
    var key = kind + "|" + state.zone;
    if (!formatters[key]) {
      var opts = { timeZone: state.zone, hour12: false };
      if (kind === "time") { opts.hour = "2-digit"; opts.minute = "2-digit"; opts.second = "2-digit"; opts.timeZoneName = "short"; }
      if (kind === "hms") { opts.hour = "2-digit"; opts.minute = "2-digit"; opts.second = "2-digit"; }
      if (kind === "full") {
        opts.weekday = "short"; opts.month = "short"; opts.day = "numeric";
        opts.hour = "2-digit"; opts.minute = "2-digit"; opts.timeZoneName = "short";
      }
      formatters[key] = new Intl.DateTimeFormat("en-US", opts);
    }
    return formatters[key];
  }
  function showTime(ms) { return fmt("time").format(new Date(ms)); }
  function showFull(ms) { return fmt("full").format(new Date(ms)); }
  function nowMs() { return Date.now() + state.skewMs; }

  function money(text, signed) {
    if (text == null) return '<span class="muted">n/a</span>';
    var v = Number(text);
    var abs = Math.abs(v).toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
    var sign = v < 0 ? "−" : (signed && v > 0 ? "+" : "");
    var cls = !signed || v === 0 ? "" : (v < 0 ? "neg" : "pos");
    return '<span class="' + cls + '">' + sign + "$" + abs + "</span>";
  }

  function duration(ms) {
    if (ms <= 0) return "00:00:00";
    var s = Math.floor(ms / 1000);
    var d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60);
    var hms = [h, m, s % 60].map(function (n) { return (n < 10 ? "0" : "") + n; }).join(":");
    return d > 0 ? d + "d " + hms : hms;
  }

  function gaugeClass(g) {
    if (g.fraction == null) return "g-none";
    var f = Number(g.fraction);
    if (g.breached || f > 0.8) return "g-red";
    if (f >= 0.5) return "g-amber";
    return "g-green";
  }

  function plural(n, word) { return n + " " + word + (n === 1 ? "" : "s"); }

  // ---- one account's card ----------------------------------------------------------------------

  function accountFor(id) {
    var acct = state.accounts[id];
    if (acct) return acct;
    var el = document.createElement("section");
    el.className = "account";
    el.id = "account-" + id;
    el.setAttribute("data-account", id);
    el.innerHTML =
      '<header class="acct-head">' +
      '  <div class="acct-title"><h2>Account ' + esc(id) + '</h2><span class="name"></span></div>' +
      '  <div class="badges"><span class="pill state"></span><span class="pill conn"></span></div>' +
      "</header>" +
      '<div class="figures"></div>' +
      '<div class="lockouts"></div>' +
      '<div class="body">' +
      '  <div class="chart-box">' +
      '    <div class="chart-head"><h3>P&amp;L today</h3><div class="keys"></div></div>' +
      '    <div class="chart"></div>' +
      "  </div>" +
      '  <div class="gauges"></div>' +
      "</div>" +
      '<div class="positions"></div>';
    var holder = document.getElementById("accounts");
    var empty = document.getElementById("no-accounts");
    if (empty) empty.remove();
    // keep the cards in account order
    var after = null;
    Array.prototype.forEach.call(holder.children, function (child) {
      if (!after && Number(child.getAttribute("data-account")) > Number(id)) after = child;
    });
    holder.insertBefore(el, after);
    acct = state.accounts[id] = { id: Number(id), el: el, status: null, chart: null,
                                  t: [], realized: [], net: [], markers: {} };
    return acct;
  }

  function renderAccount(acct) {
    var s = acct.status, el = acct.el;
    el.classList.toggle("halted", s.trading_state === "halted");
    el.classList.toggle("reducing", s.trading_state === "reducing");
    el.querySelector(".name").textContent = s.name || "";
    var stateEl = el.querySelector(".state");
    stateEl.textContent = s.trading_state;
    stateEl.className = "pill state " + ({ active: "pill-ok", reducing: "pill-wait" }[s.trading_state] || "pill-bad");
    var conn = el.querySelector(".conn");
    conn.textContent = "gateway " + s.connection;
    conn.className = "pill conn " + ({ connected: "pill-ok", connecting: "pill-wait", reconnecting: "pill-wait",
                                       replay: "pill-wait" }[s.connection] || "pill-bad");
    conn.title = "the daemon's connection to the gateway (the worse of its two hubs)";

    el.querySelector(".figures").innerHTML =
      figure("Net P&L", money(s.net, true), "big net") +
      figure("Realized", money(s.realized, true), "realized") +
      figure("Unrealized", money(s.unrealized, true), "unrealized") +
      figure("Fees", money(s.costs, false), "costs") +
      figure("Balance", money(s.balance, false), "balance") +
      figure("Trades", esc(s.trade_count), "trades");

    el.querySelector(".lockouts").innerHTML = s.lockouts.map(function (lk) {
      var what = lk.scope === "symbol" && lk.symbol ? "locked on " + lk.symbol : "account locked";
      var until = lk.until
        ? 'until <span class="mono">' + esc(showFull(Date.parse(lk.until))) + "</span>"
        : "until " + esc(lk.condition || "unlocked");
      return '<div class="lockout" data-rule="' + esc(lk.rule) + '">' +
        '<span class="lock-rule">' + esc(lk.rule) + " · " + esc(what) + "</span>" +
        '<span class="lock-reason">' + esc(lk.reason) + "</span>" +
        '<span class="countdown"' + (lk.until ? ' data-until="' + esc(lk.until) + '"' : "") +
        ' title="time left">' + (lk.until ? duration(Date.parse(lk.until) - nowMs()) : "held") + "</span>" +
        '<span class="lock-until">since ' + esc(showTime(Date.parse(lk.since))) + " · " + until + "</span>" +
        "</div>";
    }).join("");

    el.querySelector(".gauges").innerHTML = '<h3>Rules</h3>' + (s.gauges.length ? s.gauges.map(function (g) {
      var f = g.fraction == null ? 0 : Math.min(1, Number(g.fraction));
      var pct = g.fraction == null ? "–" : Math.round(Number(g.fraction) * 100) + "%";
      var unit = g.unit === "USD" ? "" : " " + g.unit;
      var val = g.value == null ? "no price yet" : showValue(g.value, g.unit) + " / " + showValue(g.limit, g.unit) + unit;
      return '<div class="gauge ' + gaugeClass(g) + '" data-rule="' + esc(g.rule) + '">' +
        '<div class="gauge-top"><span class="gauge-name"><span class="rule">' + esc(g.rule) + "</span>" +
        esc(g.name.replace(/_/g, " ")) + (g.subject ? " · " + esc(g.subject) : "") + "</span>" +
        '<span class="gauge-pct">' + pct + "</span></div>" +
        '<div class="bar"><span style="width:' + (f * 100).toFixed(1) + '%"></span></div>' +
        '<div class="gauge-val">' + esc(val) + (g.breached ? ' · <b class="neg">breached</b>' : "") + "</div></div>";
    }).join("") : '<p class="muted">No rule with a gauge is enabled.</p>');

    el.querySelector(".positions").innerHTML = '<h3>Open positions</h3>' + (s.positions.length
      ? '<div class="table-wrap"><table><thead><tr><th>Symbol</th><th class="num">Size</th>' +
        '<th class="num">Avg price</th><th class="num">Mark</th><th class="num">Unrealized</th><th>Opened</th></tr></thead><tbody>' +
        s.positions.map(function (p) {
          return "<tr><td><b>" + esc(p.symbol) + '</b> <span class="muted mono">' + esc(p.contract_id) + "</span></td>" +
            '<td class="num ' + (p.size < 0 ? "neg" : "pos") + '">' + (p.size > 0 ? "+" : "") + esc(p.size) + "</td>" +
            '<td class="num">' + esc(p.average_price) + "</td>" +
            '<td class="num">' + (p.mark == null ? '<span class="muted">–</span>' : esc(p.mark)) + "</td>" +
            '<td class="num">' + money(p.unrealized, true) + "</td>" +
            "<td>" + esc(showTime(Date.parse(p.opened_at))) + "</td></tr>";
        }).join("") + "</tbody></table></div>"
      : '<p class="muted">Flat.</p>');

    renderKeys(acct);
  }

  function showValue(text, unit) {
    if (unit !== "USD") return String(text);
    var v = Number(text);
    return (v < 0 ? "−$" : "$") + Math.abs(v).toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  }

  function figure(label, value, cls) {
    return '<div class="figure ' + cls + '"><div class="label">' + esc(label) + '</div><div class="value">' + value + "</div></div>";
  }

  // ---- the P&L chart ------------------------------------------------------------------------------

  function limitLines(acct) {
    var out = [];
    (acct.status ? acct.status.gauges : []).forEach(function (g) {
      var line = LIMIT_LINES[g.name];
      if (line && g.limit != null) out.push({ label: line.label, color: line.color, value: Number(g.limit), rule: g.rule });
    });
    return out;
  }

  function renderKeys(acct) {
    var keys = '<span class="key" style="--c:' + COLORS.net + '">net (total)</span>' +
      '<span class="key" style="--c:' + COLORS.realized + '">realized</span>';
    limitLines(acct).forEach(function (l) {
      keys += '<span class="key dash" style="--c:' + l.color + '">' + esc(l.label) + " " + esc(showValue(l.value, "USD")) + "</span>";
    });
    keys += '<span class="key dot" style="--c:' + COLORS.loss + '">enforcement</span>';
    var el = acct.el.querySelector(".keys");
    if (el.innerHTML !== keys) el.innerHTML = keys;
  }

  function chartData(acct) {
    // the curve runs on to "now" at its last value
    var t = acct.t.slice(), r = acct.realized.slice(), n = acct.net.slice();
    var now = nowMs() / 1000;
    if (t.length && now > t[t.length - 1]) {
      t.push(now); r.push(r[r.length - 1]); n.push(n[n.length - 1]);
    }
    return [t, r, n];
  }

  function netAt(acct, ts) {
    // the net P&L at a marker's time: the last sample at or before it
    var t = acct.t, lo = 0, hi = t.length - 1, found = -1;
    while (lo <= hi) {
      var mid = (lo + hi) >> 1;
      if (t[mid] <= ts) { found = mid; lo = mid + 1; } else { hi = mid - 1; }
    }
    if (found < 0) return t.length ? acct.net[0] : 0;
    return acct.net[found];
  }

  function markerList(acct) {
    return Object.keys(acct.markers).map(function (k) { return acct.markers[k]; })
      .sort(function (a, b) { return a.t - b.t; });
  }

  function makeChart(acct) {
    var box = acct.el.querySelector(".chart");
    var width = Math.max(240, box.clientWidth || 600);
    var opts = {
      width: width,
      height: 280,
      tzDate: function (ts) { return uPlot.tzDate(new Date(ts * 1e3), state.zone); },
      legend: { show: false },
      cursor: { drag: { x: false, y: false }, points: { size: 6 } },
      scales: {
        x: { time: true },
        y: {
          range: function (u, min, max) {
            var lo = Math.min(min == null ? 0 : min, 0), hi = Math.max(max == null ? 0 : max, 0);
            limitLines(acct).forEach(function (l) { lo = Math.min(lo, l.value); hi = Math.max(hi, l.value); });
            var pad = Math.max(10, (hi - lo) * 0.08);
            return [lo - pad, hi + pad];
          },
        },
      },
      axes: [
        { stroke: "#8b949e", grid: { stroke: "#222a36", width: 1 }, ticks: { stroke: "#2a3241" } },
        { stroke: "#8b949e", grid: { stroke: "#222a36", width: 1 }, ticks: { stroke: "#2a3241" }, size: 64,
          values: function (u, vals) { return vals.map(function (v) { return (v < 0 ? "−$" : "$") + Math.abs(v).toLocaleString("en-US"); }); } },
      ],
      series: [
        {},
        { label: "realized", stroke: COLORS.realized, width: 2, paths: uPlot.paths.stepped({ align: 1 }),
          points: { show: false } },
        { label: "net", stroke: COLORS.net, width: 2, fill: "rgba(88,166,255,0.08)", points: { show: false } },
      ],
      hooks: { draw: [function (u) { drawOverlay(u, acct); }], setCursor: [function (u) { hover(u, acct); }] },
    };
    acct.chart = charts[acct.id] = new uPlot(opts, chartData(acct), box);
    acct.chart.over.addEventListener("mouseleave", hideTip);
    if (window.ResizeObserver) {
      new ResizeObserver(function () {
        var w = Math.max(240, box.clientWidth);
        if (acct.chart && Math.abs(acct.chart.width - w) > 2) acct.chart.setSize({ width: w, height: 280 });
      }).observe(box);
    }
  }

  function drawOverlay(u, acct) {
    var ctx = u.ctx, bb = u.bbox, dpr = window.devicePixelRatio || 1;
    ctx.save();
    ctx.beginPath();
    ctx.rect(bb.left, bb.top, bb.width, bb.height);
    ctx.clip();
    // zero line
    var y0 = u.valToPos(0, "y", true);
    ctx.strokeStyle = "#3a4456"; ctx.lineWidth = 1 * dpr; ctx.setLineDash([]);
    ctx.beginPath(); ctx.moveTo(bb.left, y0); ctx.lineTo(bb.left + bb.width, y0); ctx.stroke();
    // the loss limit and the profit target
    limitLines(acct).forEach(function (l) {
      var y = u.valToPos(l.value, "y", true);
      ctx.strokeStyle = l.color; ctx.lineWidth = 1.5 * dpr; ctx.setLineDash([6 * dpr, 4 * dpr]);
      ctx.beginPath(); ctx.moveTo(bb.left, y); ctx.lineTo(bb.left + bb.width, y); ctx.stroke();
      ctx.setLineDash([]);
      ctx.fillStyle = l.color; ctx.font = (11 * dpr) + "px system-ui, sans-serif";
      ctx.textAlign = "left"; ctx.textBaseline = "bottom";  // uPlot leaves its axis settings behind
      ctx.fillText(l.label + " " + showValue(l.value, "USD"), bb.left + 6 * dpr, y - 5 * dpr);
    });
    // each enforcement, on the net curve at its time
    markerList(acct).forEach(function (m) {
      var x = u.valToPos(m.t, "x", true), y = u.valToPos(netAt(acct, m.t), "y", true);
      var r = 5 * dpr;
      ctx.fillStyle = MARKER_COLORS[m.kind] || "#d29922";
      ctx.strokeStyle = "#0d1117"; ctx.lineWidth = 2 * dpr;
      ctx.beginPath();
      if (m.kind === "lockout" || m.kind === "flatten") {  // a diamond: the account was stopped
        ctx.moveTo(x, y - r * 1.3); ctx.lineTo(x + r * 1.3, y); ctx.lineTo(x, y + r * 1.3); ctx.lineTo(x - r * 1.3, y);
        ctx.closePath();
      } else {
        ctx.arc(x, y, r, 0, 2 * Math.PI);
      }
      ctx.fill(); ctx.stroke();
    });
    ctx.restore();
  }

  var tip = null;
  function hideTip() { if (tip) tip.hidden = true; }

  function hover(u, acct) {
    tip = tip || document.getElementById("tip");
    var left = u.cursor.left, top = u.cursor.top;
    if (left == null || left < 0) { hideTip(); return; }
    var best = null, bestD = 12;
    markerList(acct).forEach(function (m) {
      var dx = u.valToPos(m.t, "x") - left, dy = u.valToPos(netAt(acct, m.t), "y") - top;
      var d = Math.sqrt(dx * dx + dy * dy);
      if (d < bestD) { best = m; bestD = d; }
    });
    if (!best) { hideTip(); return; }
    var rect = u.over.getBoundingClientRect();
    tip.innerHTML = '<div class="t">' + esc(showTime(best.t * 1000)) + "</div>" +
      "<b>" + esc(best.rule) + " " + esc(best.kind.replace(/_/g, " ")) + "</b>" +
      (outcomeText(best) ? " → " + esc(outcomeText(best)) : "") +
      (best.latency_ms != null ? " in " + esc(best.latency_ms.toFixed(1)) + " ms" : "") +
      "<div>" + esc(best.reason) + "</div>";
    tip.hidden = false;
    var x = rect.left + u.valToPos(best.t, "x") + 14, y = rect.top + u.valToPos(netAt(acct, best.t), "y") + 14;
    tip.style.left = Math.min(x, window.innerWidth - 370) + "px";
    tip.style.top = y + "px";
  }

  function redrawChart(acct) {
    if (!acct.status) return;
    if (!acct.chart) { makeChart(acct); return; }
    acct.chart.setData(chartData(acct));
  }

  // ---- feeds ---------------------------------------------------------------------------------------

  function onStatus(doc) {
    state.zone = doc.timezone || state.zone;
    if (doc.daemon && doc.daemon.as_of) state.skewMs = Date.parse(doc.daemon.as_of) - Date.now();
    state.lastPush = Date.now();
    doc.accounts.forEach(function (s) {
      var acct = accountFor(s.account_id);
      acct.status = s;
      var ts = Date.parse(s.as_of) / 1000, r = Number(s.realized), n = Number(s.net);
      var last = acct.t.length - 1;
      if (last < 0 || acct.realized[last] !== r || acct.net[last] !== n) {
        if (last >= 0 && ts < acct.t[last]) ts = acct.t[last];
        acct.t.push(ts); acct.realized.push(r); acct.net.push(n);
      }
      renderAccount(acct);
      redrawChart(acct);
    });
    var d = doc.daemon || {};
    document.getElementById("daemon-info").textContent =
      "daemon pid " + d.pid + " · dashboard up since " + (d.started_at ? showTime(Date.parse(d.started_at)) : "?");
  }

  function onHistory(doc) {
    doc.accounts.forEach(function (h) {
      var acct = accountFor(h.account_id);
      acct.t = h.t.slice();
      acct.realized = h.realized.map(Number);
      acct.net = h.net.map(Number);
      acct.markers = {};
      h.markers.forEach(function (m) { acct.markers[m.id] = m; });
      redrawChart(acct);
    });
  }

  function onLog(doc) {
    state.log = doc.rows;
    doc.rows.forEach(function (row) {
      if (row.kind === "alert") return;
      var acct = state.accounts[row.account];
      if (acct) acct.markers[row.id] = row;
    });
    Object.keys(state.accounts).forEach(function (id) {
      var acct = state.accounts[id];
      if (acct.chart) acct.chart.redraw(false, false);
    });
    var body = document.querySelector("#log tbody");
    document.getElementById("log-count").textContent = doc.total > doc.rows.length
      ? "newest " + doc.rows.length + " of " + doc.total + " today"
      : plural(doc.total, "row") + " today";
    if (!doc.rows.length) {
      body.innerHTML = '<tr class="none"><td colspan="7">Nothing enforced today.</td></tr>';
      return;
    }
    body.innerHTML = doc.rows.map(function (row) {
      var alert = row.kind === "alert";
      var failed = row.outcome && row.outcome.indexOf("failed") === 0;
      var action = alert ? "alert" + (row.level ? " (" + row.level + ")" : "") : row.kind.replace(/_/g, " ");
      return '<tr class="' + (alert ? "alert" : "") + (failed ? " failed" : "") + '" data-id="' + esc(row.id) + '">' +
        '<td class="mono">' + esc(showTime(row.t * 1000)) + "</td>" +
        "<td>" + esc(row.account) + "</td>" +
        '<td class="mono">' + esc(row.rule) + "</td>" +
        "<td>" + esc(action) + "</td>" +
        '<td class="outcome">' + esc(outcomeText(row)) + "</td>" +
        '<td class="num">' + (row.latency_ms == null ? "" : esc(row.latency_ms.toFixed(1)) + " ms") + "</td>" +
        '<td class="reason">' + esc(row.reason) + "</td></tr>";
    }).join("");
  }

  function outcomeText(row) {
    if (row.outcome) return row.outcome;
    if (DONE_WHEN_DECIDED[row.kind]) return DONE_WHEN_DECIDED[row.kind];
    return BROKER_KINDS[row.kind] ? "running" : "";
  }

  function loadHistory() {
    fetch("/api/history", { cache: "no-store" })
      .then(function (r) { return r.ok ? r.json() : Promise.reject(new Error("HTTP " + r.status)); })
      .then(onHistory)
      .catch(function () { /* the next reconnection tries again */ });
  }

  function setFeed(text, cls) {
    var el = document.getElementById("feed");
    el.textContent = text;
    el.className = "pill " + cls;
    // While the feed is down the cards show the last figures received, not the present: dimmed
    // (their "gateway connected" is the daemon's word from before).
    document.body.classList.toggle("feed-down", cls !== "pill-ok");
  }

  function connect() {
    var source = new EventSource("/events");
    source.addEventListener("open", function () { setFeed("live", "pill-ok"); loadHistory(); });
    source.addEventListener("error", function () {
      setFeed(source.readyState === EventSource.CLOSED ? "disconnected" : "reconnecting…",
              source.readyState === EventSource.CLOSED ? "pill-bad" : "pill-wait");
    });
    source.addEventListener("status", function (e) { onStatus(JSON.parse(e.data)); });
    source.addEventListener("log", function (e) { onLog(JSON.parse(e.data)); });
  }

  // ---- the second ticker: clock, countdowns, the curve's "now" ---------------------------------

  function tick() {
    var now = nowMs();
    document.getElementById("clock").textContent = fmt("time").format(new Date(now));
    Array.prototype.forEach.call(document.querySelectorAll(".countdown[data-until]"), function (el) {
      el.textContent = duration(Date.parse(el.getAttribute("data-until")) - now);
    });
    Object.keys(state.accounts).forEach(function (id) { redrawChart(state.accounts[id]); });
  }

  connect();
  tick();
  setInterval(tick, 1000);
})();
