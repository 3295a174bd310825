// Client-side search over paper titles, topic labels and themes. The index is a script file
// (assets/search-index.js) loaded on first use, so search works from file:// and under the CSP.
"use strict";
(function () {
  var input = document.getElementById("search");
  var list = document.getElementById("search-results");
  if (!input || !list) { return; }
  var root = input.getAttribute("data-root") || "";
  var loading = null;
  var parts = {};  // file number -> promise of its papers (file 0 is in the index)
  var latest = 0;  // the query being answered: an older one's late results are dropped
  var SHOWN = 40;

  function loadScript(src) {
    return new Promise(function (resolve, reject) {
      var s = document.createElement("script");
      s.src = src;
      s.onload = resolve;
      s.onerror = reject;
      document.head.appendChild(s);
    });
  }

  function loadIndex() {
    if (window.TRENDS_SEARCH) { return Promise.resolve(window.TRENDS_SEARCH); }
    if (!loading) {
      loading = loadScript(root + "assets/search-index.js").then(function () {
        return window.TRENDS_SEARCH;
      });
    }
    return loading;
  }

  // The papers of file n (older papers the further n goes), loaded once, on demand.
  function loadPart(index, n) {
    if (n === 0) { return Promise.resolve(index.papers); }
    if (!parts[n]) {
      parts[n] = loadScript(root + "assets/search-papers-" + n + ".js").then(function () {
        return window.TRENDS_SEARCH_PARTS[n];
      });
    }
    return parts[n];
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

  function matcher(query) {
    var words = query.toLowerCase().split(/\s+/).filter(Boolean);
    return function (text) {
      var t = text.toLowerCase();
      return words.every(function (w) { return t.indexOf(w) !== -1; });
    };
  }

  function searchLabels(index, hit) {
    var out = [];
    index.themes.forEach(function (t) {
      if (hit(t.label)) { out.push(item(root + "themes/" + t.id + ".html", t.label, "theme")); }
    });
    index.topics.forEach(function (t) {
      if (hit(t.label + " " + t.terms.join(" "))) {
        out.push(item(root + "topics/" + t.page + ".html", t.label, "topic " + t.page));
      }
    });
    return out;
  }

  function searchPapers(papers, hit, out) {
    for (var i = 0; i < papers.length && out.length < SHOWN; i++) {
      var p = papers[i];
      if (hit(p[0])) {
        var href = p[2] || (root + "topics/" + p[3] + ".html");  // p[3]: the topic page name
        out.push(item(href, p[0], p[1]));
      }
    }
  }

  function show(results, note) {
    list.textContent = "";
    if (!results.length && !note) { results = [item("#", "No matches", "")]; }
    results.forEach(function (li) { list.appendChild(li); });
    if (note) {
      var li = document.createElement("li");
      li.className = "muted search-more";
      li.textContent = note;
      list.appendChild(li);
    }
    list.hidden = false;
  }

  // Newest papers first; older files are read only while fewer than SHOWN match, and the list
  // is shown after each file, so a common word answers from the first file alone.
  function run(index, query, ticket) {
    var hit = matcher(query);
    var out = searchLabels(index, hit);
    var count = index.parts || 1;
    function step(n) {
      return loadPart(index, n).then(function (papers) {
        if (ticket !== latest) { return; }
        searchPapers(papers || [], hit, out);
        var more = out.length < SHOWN && n + 1 < count;
        show(out.slice(), more ? "Searching older papers (" + (n + 1) + " of " + count + " files read)" : "");
        if (more) { return step(n + 1); }
      });
    }
    return step(0).catch(function () {
      if (ticket === latest) { show(out.slice(), "Older papers could not be loaded"); }
    });
  }

  input.addEventListener("focus", function () { loadIndex().catch(function () {}); });
  input.addEventListener("input", function () {
    var q = input.value.trim();
    var ticket = ++latest;
    if (q.length < 2) { list.hidden = true; list.textContent = ""; return; }
    loadIndex().then(function (index) { return run(index, q, ticket); });
  });
  document.addEventListener("keydown", function (e) {
    if (e.key === "Escape") { list.hidden = true; }
  });
})();
