// Draws every chart of the page from the JSON block next to it (no inline script: CSP-clean).
"use strict";

function asSvg(fig) {
  // Without WebGL (old hardware, some headless browsers) draw WebGL traces as SVG instead.
  fig.data.forEach(function (trace) {
    if (trace.type === "scattergl") { trace.type = "scatter"; }
  });
  return fig;
}

function webglFailed(el) {
  return (el.textContent || "").indexOf("WebGL is not supported") !== -1;
}

function linkClicks(el) {
  // Points carry a relative page link (their topic) in customdata.
  el.on("plotly_click", function (ev) {
    var target = ev.points && ev.points[0] && ev.points[0].customdata;
    if (typeof target === "string" && /^[a-z0-9_\/-]+\.html$/.test(target)) {
      window.location.href = target;
    }
  });
}

function draw(el, fig) {
  var small = el.classList.contains("spark");
  var config = { responsive: !small, displaylogo: false, staticPlot: small };
  return window.Plotly.newPlot(el, fig.data, fig.layout, config).then(function () {
    if (webglFailed(el)) {
      window.Plotly.purge(el);
      el.textContent = "";
      return draw(el, asSvg(fig));
    }
    el.setAttribute("data-drawn", "true");
    if (el.getAttribute("data-click") === "link") { linkClicks(el); }
    return el;
  });
}

document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("[data-figure]").forEach(function (el) {
    var src = document.getElementById(el.getAttribute("data-figure"));
    if (!src) { return; }
    draw(el, JSON.parse(src.textContent));
  });
});
