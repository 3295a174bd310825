// Client-side search over paper titles, topic labels and themes. The index is a script file
// (assets/search-index.js) loaded on first use, so search works from file:// and under the CSP.
"use strict";
(function () {
  var input = document.getElementById("search");
  var list = document.getElementById("search-results");
  if (!input || !list) { return; }
  var root = input.getAttribute("data-root") || "";
  var loading = null;

  function loadIndex() {
    if (window.TRENDS_SEARCH) { return Promise.resolve(window.TRENDS_SEARCH); }
    if (loading) { return loading; }
    loading = new Promise(function (resolve, reject) {
      var s = document.createElement("script");
      s.src = root + "assets/search-index.js";
      s.onload = function () { resolve(window.TRENDS_SEARCH); };
      s.onerror = reject;
      document.head.appendChild(s);
    });
    return loading;
  }

  function item(href, text, note) {
    var li = document.createElement("li");
    var a = document.createElement("a");
    a.href = href;
    a.textContent = text;  // never innerHTML: titles are data, not markup
    li.appendChild(a);
    if (note) {
      var span = document.createElement("span");
      span.className = "muted";
      span.textContent = " " + note;
      li.appendChild(span);
    }
    return li;
  }

  function search(index, query) {
    var words = query.toLowerCase().split(/\s+/).filter(Boolean);
    var hit = function (text) {
      var t = text.toLowerCase();
      return words.every(function (w) { return t.indexOf(w) !== -1; });
    };
    var out = [];
    index.themes.forEach(function (t) {
      if (hit(t.label)) { out.push(item(root + "themes/" + t.id + ".html", t.label, "theme")); }
    });
    index.topics.forEach(function (t) {
      if (hit(t.label + " " + t.terms.join(" "))) {
        out.push(item(root + "topics/" + t.page + ".html", t.label, "topic " + t.page));
      }
    });
    for (var i = 0; i < index.papers.length && out.length < 40; i++) {
      var p = index.papers[i];
      if (hit(p[0])) {
        var href = p[2] || (root + "topics/" + p[3] + ".html");  // p[3]: the topic page name
        out.push(item(href, p[0], p[1]));
      }
    }
    return out;
  }

  input.addEventListener("focus", function () { loadIndex().catch(function () {}); });
  input.addEventListener("input", function () {
    var q = input.value.trim();
    if (q.length < 2) { list.hidden = true; list.textContent = ""; return; }
    loadIndex().then(function (index) {
      var results = search(index, q);
      list.textContent = "";
      if (!results.length) { results = [item("#", "No matches", "")]; }
      results.forEach(function (li) { list.appendChild(li); });
      list.hidden = false;
    });
  });
  document.addEventListener("keydown", function (e) {
    if (e.key === "Escape") { list.hidden = true; }
  });
})();
