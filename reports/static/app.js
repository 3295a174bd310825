// Draws every chart of the page from the JSON block next to it (no inline script: CSP-clean).
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("[data-figure]").forEach(function (el) {
    var src = document.getElementById(el.getAttribute("data-figure"));
    if (!src) { return; }
    var fig = JSON.parse(src.textContent);
    var small = el.classList.contains("spark");
    var config = { responsive: !small, displaylogo: false, staticPlot: small };
    window.Plotly.newPlot(el, fig.data, fig.layout, config).then(function () {
      el.setAttribute("data-drawn", "true");
    });
  });
});
