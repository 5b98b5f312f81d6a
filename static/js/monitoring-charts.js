/* Monitoring graphs, drawn with uPlot (vendored in static/vendor/uplot-*).
 *
 * <div data-series-url="/api/vms/7/monitoring/?hours=1" data-chart="vm-cpu"></div>
 *   a chart of that kind (see KINDS); add data-compact for a small one without axes or legend.
 * <span data-latest-url="..." data-latest="cpu_percent" data-format="percent"></span>
 *   the newest value (the response's `latest` object, else the series' last point).
 *
 * Elements sharing a URL share one request (same origin, the page's session). Each URL is
 * fetched again every monitoring interval (the response's `interval`), skipped while the tab
 * is hidden, and stops on 403/404 (logged out, or the object is gone).
 */
(function () {
  "use strict";

  var MIN_REFRESH_SECONDS = 5;
  var BLUE = "#0069ff", GREEN = "#2e7d32", ORANGE = "#b45309", GREY = "#5b6575";

  function bytes(value) {
    if (value === null || value === undefined) return "–";
    var units = ["B", "KiB", "MiB", "GiB", "TiB"], i = 0;
    while (Math.abs(value) >= 1024 && i < units.length - 1) { value /= 1024; i++; }
    return (i ? value.toFixed(1) : Math.round(value)) + " " + units[i];
  }

  var FORMATS = {
    percent: function (v) { return v === null || v === undefined ? "–" : v.toFixed(1) + " %"; },
    mib: function (v) { return v === null || v === undefined ? "–" : bytes(v * 1048576); },
    bytes: bytes,
    bps: function (v) { return v === null || v === undefined ? "–" : bytes(v) + "/s"; },
    time: function (v) { return v ? new Date(v * 1000).toLocaleString() : "–"; },
    number: function (v) { return v === null || v === undefined ? "–" : String(v); },
  };

  // Each kind: the series keys of the JSON it draws, their labels, colours and formats.
  var KINDS = {
    "vm-cpu": { series: [["cpu_percent", "CPU", BLUE]], format: "percent", min: 0 },
    "vm-memory": { series: [["memory_mb", "Memory", GREEN]], format: "mib", min: 0 },
    "vm-disk": { series: [["disk_used_mb", "Disk used", ORANGE]], format: "mib", min: 0 },
    "vm-network": {
      series: [["net_rx_bps", "RX", BLUE], ["net_tx_bps", "TX", ORANGE]],
      format: "bps",
      min: 0,
    },
    "host-cpu": { series: [["cpu_percent", "CPU", BLUE]], format: "percent", min: 0, max: 100 },
    "host-memory": {
      series: [["memory_used_mb", "Used", GREEN], ["memory_total_mb", "Total", GREY, [4, 4]]],
      format: "mib",
      min: 0,
    },
  };

  function options(el, kind) {
    var compact = el.hasAttribute("data-compact");
    var format = FORMATS[kind.format];
    var series = [{}];
    kind.series.forEach(function (s) {
      series.push({
        label: s[1],
        stroke: s[2],
        width: compact ? 1.5 : 2,
        dash: s[3],
        fill: s.length < 4 ? s[2] + "1a" : undefined,
        points: compact ? { show: false } : {},
        value: function (u, v) { return format(v); },
      });
    });
    var yRange = function (u, low, high) {
      var top = kind.max !== undefined ? Math.max(kind.max, high || 0) : high;
      if (!top || top <= kind.min) top = kind.min + 1;
      return [kind.min, kind.max !== undefined ? top : top * 1.1];
    };
    return {
      width: Math.max(el.clientWidth, 120),
      height: compact ? 48 : 180,
      series: series,
      scales: { y: { range: yRange } },
      legend: { show: !compact },
      cursor: { show: !compact },
      axes: compact
        ? [{ show: false }, { show: false }]
        : [{}, { size: 70, values: function (u, ticks) { return ticks.map(format); } }],
    };
  }

  function columns(kind, data) {
    return [data.at].concat(kind.series.map(function (s) { return data[s[0]] || []; }));
  }

  function latestValue(data, key) {
    if (data.latest && Object.prototype.hasOwnProperty.call(data.latest, key)) {
      return data.latest[key];
    }
    var values = data[key] || [];
    for (var i = values.length - 1; i >= 0; i--) if (values[i] !== null) return values[i];
    return null;
  }

  function draw(entry, data) {
    var kind = KINDS[entry.el.getAttribute("data-chart")];
    if (!kind) return;
    if (!data.at.length) {
      if (!entry.plot) entry.el.innerHTML = '<p class="hint">no samples yet</p>';
      return;
    }
    var cols = columns(kind, data);
    if (entry.plot) {
      entry.plot.setData(cols);
      return;
    }
    entry.el.textContent = "";
    entry.plot = new uPlot(options(entry.el, kind), cols, entry.el);
    var last = cols[1][cols[1].length - 1];
    entry.el.title = kind.series[0][1] + ": " + FORMATS[kind.format](last);
  }

  function update(group, data) {
    group.charts.forEach(function (entry) { draw(entry, data); });
    group.latest.forEach(function (el) {
      var format = FORMATS[el.getAttribute("data-format")] || FORMATS.number;
      el.textContent = format(latestValue(data, el.getAttribute("data-latest")));
    });
  }

  function poll(url, group) {
    var next = function (seconds) {
      group.timer = window.setTimeout(function () { poll(url, group); }, seconds * 1000);
    };
    if (document.hidden && group.loaded) return next(group.interval);
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (response.status === 403 || response.status === 404) {
          group.charts.forEach(function (e) {
            if (!e.plot) e.el.innerHTML = '<p class="hint">monitoring not available</p>';
          });
          return null; // logged out, or gone: stop
        }
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.json().then(function (data) {
          group.loaded = true;
          group.interval = Math.max(Number(data.interval) || 30, MIN_REFRESH_SECONDS);
          update(group, data);
          next(group.interval);
        });
      })
      .catch(function () { next(group.interval); }); // a blip: try again next interval
  }

  var groups = {};

  function groupFor(url) {
    if (!groups[url]) groups[url] = { charts: [], latest: [], interval: 30, started: false };
    return groups[url];
  }

  function init(root) {
    if (typeof uPlot === "undefined") return;
    root.querySelectorAll("[data-series-url]:not([data-chart-ready])").forEach(function (el) {
      el.setAttribute("data-chart-ready", "");
      groupFor(el.getAttribute("data-series-url")).charts.push({ el: el, plot: null });
    });
    root.querySelectorAll("[data-latest-url]:not([data-chart-ready])").forEach(function (el) {
      el.setAttribute("data-chart-ready", "");
      groupFor(el.getAttribute("data-latest-url")).latest.push(el);
    });
    Object.keys(groups).forEach(function (url) {
      if (!groups[url].started) {
        groups[url].started = true;
        poll(url, groups[url]);
      }
    });
  }

  function resize() {
    Object.keys(groups).forEach(function (url) {
      groups[url].charts.forEach(function (entry) {
        if (entry.plot) {
          entry.plot.setSize({
            width: Math.max(entry.el.clientWidth, 120),
            height: entry.plot.height,
          });
        }
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () { init(document); });
  document.addEventListener("htmx:afterSettle", function (event) { init(event.target); });
  var resizeTimer;
  window.addEventListener("resize", function () {
    window.clearTimeout(resizeTimer);
    resizeTimer = window.setTimeout(resize, 150);
  });
})();
