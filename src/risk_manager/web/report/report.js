// The replay report's charts (uPlot) and decision tooltips. The curves come from the inline JSON
// blob #report-data, a decision's words from its row of the decision table (written once, in the
// HTML: a big day has tens of thousands); nothing is fetched. Text is only ever set with
// textContent, never parsed as HTML: a reason is shown exactly as written, whatever it holds.
(function () {
  "use strict";
  const data = JSON.parse(document.getElementById("report-data").textContent);
  const spans = data.zone.spans; // [[utc seconds from, offset seconds, abbreviation], ...] ascending

  function span(ts) {
    let lo = 0, hi = spans.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (spans[mid][0] <= ts) lo = mid; else hi = mid - 1;
    }
    return spans[lo];
  }
  // The configured zone's wall time as a Date whose *local* getters read it (what uPlot's axis
  // formatting calls), whatever zone the browser itself is in.
  function zoned(ts) {
    const w = new Date((ts + span(ts)[1]) * 1000);
    return new Date(w.getUTCFullYear(), w.getUTCMonth(), w.getUTCDate(), w.getUTCHours(),
      w.getUTCMinutes(), w.getUTCSeconds(), w.getUTCMilliseconds());
  }
  const pad = (n, w) => String(n).padStart(w || 2, "0");
  function localText(ts) {
    const s = span(ts), w = new Date((ts + s[1]) * 1000);
    return w.getUTCFullYear() + "-" + pad(w.getUTCMonth() + 1) + "-" + pad(w.getUTCDate()) + " " +
      pad(w.getUTCHours()) + ":" + pad(w.getUTCMinutes()) + ":" + pad(w.getUTCSeconds()) + " " + s[2];
  }
  const money = (v) => v == null ? "" : v.toFixed(2);

  const rows = document.querySelectorAll("#decision-table tbody tr");
  // Decision number ``id`` (in decision order) as the table shows it.
  function decision(id) {
    const cells = Array.from(rows[id].cells, (cell) => cell.textContent);
    return { time: cells[0], account: cells[1], rule: cells[2], action: cells[3], details: cells[4], reason: cells[5] };
  }

  // Markers are coloured as the decision table colours its actions: a point where several decisions
  // fall takes the colour of the weightiest. One uPlot series per colour (uPlot colours by series).
  const MARKERS = [
    { label: "Lockout or flatten", colour: "#b3261e", actions: ["lockout", "flatten"] },
    { label: "Close", colour: "#a15c00", actions: ["close_position"] },
    { label: "Unlock", colour: "#1b7a3d", actions: ["unlock"] },
    { label: "Other decision", colour: "#5a6675", actions: null }, // alerts, cancels, stops
  ];
  function markerOf(ids) {
    let best = MARKERS.length - 1;
    for (const id of ids) {
      const action = rows[id].cells[3].textContent;
      const found = MARKERS.findIndex((m) => m.actions !== null && m.actions.includes(action));
      if (found !== -1 && found < best) best = found;
    }
    return best;
  }

  const tooltip = document.getElementById("tooltip");
  function showTooltip(decisionIds, x, y) {
    tooltip.replaceChildren();
    for (const id of decisionIds) {
      const d = decision(id);
      const box = document.createElement("div");
      box.className = "d";
      const head = document.createElement("div");
      head.className = "head";
      head.textContent = d.time + "  " + d.rule + "  " + d.action + (d.details ? "  " + d.details : "");
      const why = document.createElement("div");
      why.className = "why";
      why.textContent = d.reason;
      box.append(head, why);
      tooltip.append(box);
    }
    tooltip.hidden = false;
    const left = Math.min(x + 14, window.scrollX + document.documentElement.clientWidth - tooltip.offsetWidth - 8);
    tooltip.style.left = Math.max(left, 4) + "px";
    tooltip.style.top = (y + 14) + "px";
  }
  function hideTooltip() { tooltip.hidden = true; }

  const charts = {};
  const list = document.getElementById("chart-list");
  for (const account of data.accounts) {
    const box = document.createElement("div");
    box.className = "account";
    box.id = "account-" + account.id;
    const title = document.createElement("h3");
    title.textContent = "Account " + account.id + (account.name ? " (" + account.name + ")" : "");
    const limits = document.createElement("p");
    limits.className = "limits";
    limits.textContent = [
      account.loss_limit == null ? "no daily loss limit" : "daily loss limit " + money(account.loss_limit),
      account.profit_target == null ? "no daily profit target" : "daily profit target " + money(account.profit_target),
      account.decisions + " decision(s)",
    ].join(" · ");
    const plot = document.createElement("div");
    plot.className = "chart";
    box.append(title, limits, plot);
    list.append(box);

    const n = account.t.length;
    const marks = MARKERS.map(() => null); // marker kind -> its column, made when first used
    const marked = new Map(); // point index -> decision ids
    for (const [index, ids] of account.marks) {
      const kind = markerOf(ids);
      if (marks[kind] === null) marks[kind] = new Array(n).fill(null);
      marks[kind][index] = account.net[index];
      marked.set(index, ids);
    }
    const series = [
      { value: (u, v) => v == null ? "" : localText(v) },
      { label: "Realized", stroke: "#2f6fd6", width: 2, paths: uPlot.paths.stepped({ align: 1 }), value: (u, v) => money(v) },
      { label: "Total", stroke: "#7a3fb8", width: 1.5, paths: uPlot.paths.stepped({ align: 1 }), value: (u, v) => money(v) },
    ];
    const columns = [account.t, account.realized, account.net];
    MARKERS.forEach((marker, kind) => {
      if (marks[kind] === null) return; // no such decision on this account: no legend entry
      series.push({ label: marker.label, stroke: marker.colour, fill: marker.colour, width: 0, paths: () => null,
        points: { show: true, size: 10, stroke: marker.colour, fill: marker.colour }, value: (u, v) => money(v) });
      columns.push(marks[kind]);
    });
    for (const [label, limit, colour] of [["Loss limit", account.loss_limit, "#b3261e"],
                                          ["Profit target", account.profit_target, "#1b7a3d"]]) {
      if (limit == null) continue;
      series.push({ label: label, stroke: colour, width: 1, dash: [6, 4], points: { show: false }, value: (u, v) => money(v) });
      columns.push(new Array(n).fill(limit));
    }
    const width = Math.max(Math.min(list.clientWidth - 26, 1340), 320);
    const chart = new uPlot({
      width: width,
      height: 320,
      tzDate: zoned,
      // A little room either side, so a marker at the first or last instant can be hovered.
      scales: { x: { time: true, range: (u, min, max) => {
        const pad = Math.max((max - min) * 0.01, 1);
        return [min - pad, max + pad];
      } } },
      series: series,
      axes: [{}, { values: (u, ticks) => ticks.map((v) => v.toFixed(0)), size: 70 }],
      cursor: { points: { show: false } },
      hooks: {
        setCursor: [(u) => {
          const left = u.cursor.left, top = u.cursor.top;
          if (left == null || left < 0) { hideTooltip(); return; }
          let best = null, bestDistance = 12;
          for (const [index, ids] of marked) {
            const dx = u.valToPos(account.t[index], "x") - left;
            const dy = u.valToPos(account.net[index], "y") - top;
            const distance = Math.hypot(dx, dy);
            if (distance <= bestDistance) { best = ids; bestDistance = distance; }
          }
          if (best === null) { hideTooltip(); return; }
          const rect = u.over.getBoundingClientRect();
          showTooltip(best, rect.left + window.scrollX + left, rect.top + window.scrollY + top);
        }],
      },
    }, columns, plot);
    chart.over.addEventListener("mouseleave", hideTooltip);
    charts[account.id] = { chart: chart, account: account };
  }
  // For tests and the curious: the charts and the data behind them.
  window.riskReport = { data: data, charts: charts, localText: localText, decision: decision };
})();
