/* crm_plugin admin «Статистика»: draws the preview's plotly figures, shows the date range only for «Свои
   даты», and polls a send's progress (queued, sent, failed) until it is finished. */
(function () {
  "use strict";

  function readJson(id) {
    var element = document.getElementById(id);
    return element ? JSON.parse(element.textContent) : null;
  }

  function drawCharts() {
    var figures = readJson("crm-stats-figures");
    if (!figures || typeof window.Plotly === "undefined") { return; }
    var config = readJson("crm-stats-plotly-config") || {};
    figures.forEach(function (figure, index) {
      var target = document.getElementById("crm-stats-chart-" + index);
      if (target) { window.Plotly.newPlot(target, figure.data, figure.layout, config); }
    });
  }

  function toggleRange() {
    var select = document.getElementById("crm-stats-period");
    var range = document.getElementById("crm-stats-range");
    if (!select || !range) { return; }
    var update = function () { range.hidden = select.value !== "range"; };
    select.addEventListener("change", update);
    update();
  }

  function pollProgress() {
    var box = document.getElementById("crm-run-progress");
    if (!box) { return; }
    var url = box.getAttribute("data-url");
    var set = function (id, text) { document.getElementById(id).textContent = text; };
    var tick = function () {
      fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"}})
        .then(function (response) { return response.json(); })
        .then(function (run) {
          var total = run.total || 0;
          var percent = function (count) { return total ? (100 * count / total) + "%" : "0%"; };
          document.getElementById("crm-run-sent").style.width = percent(run.sent);
          document.getElementById("crm-run-failed").style.width = percent(run.failed);
          set("crm-run-queued", run.queued);
          set("crm-run-sent-count", run.sent);
          set("crm-run-failed-count", run.failed);
          set("crm-run-total", total);
          set("crm-run-note", run.note_text || "");
          set("crm-run-state", run.finished ? box.getAttribute("data-done") :
              (run.status === "pending" ? box.getAttribute("data-pending") : ""));
          box.setAttribute("data-finished", run.finished ? "1" : "0");
          if (!run.finished) { window.setTimeout(tick, 700); }
        })
        .catch(function () { window.setTimeout(tick, 2000); });
    };
    tick();
  }

  drawCharts();
  toggleRange();
  pollProgress();
}());
