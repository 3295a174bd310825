// A topic page's full paper list: rows [title, date, url, authors] come as JSON in a
// <script type="application/json" class="paper-data"> element; this shows PAGE_SIZE of them at a
// time, newest first, filtered by words in the title or authors. Offline: no request is made,
// and every field goes in as text (textContent), never as markup.
"use strict";
(function () {
  var PAGE_SIZE = 50;

  function setUp(section) {
    var data = section.querySelector(".paper-data");
    var list = section.querySelector(".paper-page");
    if (!data || !list) { return; }
    var rows = JSON.parse(data.textContent);
    var filter = section.querySelector(".paper-filter");
    var count = section.querySelector(".paper-count");
    var at = section.querySelector(".paper-at");
    var prev = section.querySelector(".paper-prev");
    var next = section.querySelector(".paper-next");
    var shown = rows;
    var page = 0;

    function row(p) {
      var li = document.createElement("li");
      var title = p[0] || "(untitled)";
      var url = p[2];
      if (url && /^https?:\/\//.test(url)) {
        var a = document.createElement("a");
        a.href = url;
        a.rel = "noopener noreferrer";
        a.textContent = title;
        li.appendChild(a);
      } else {
        li.appendChild(document.createTextNode(title));
      }
      var note = document.createElement("span");
      note.className = "muted";
      note.textContent = (p[1] || "date unknown") + (p[3] ? " \u00b7 " + p[3] : "");
      li.appendChild(note);
      return li;
    }

    function draw() {
      var pages = Math.max(1, Math.ceil(shown.length / PAGE_SIZE));
      page = Math.min(Math.max(page, 0), pages - 1);
      var start = page * PAGE_SIZE;
      var frag = document.createDocumentFragment();
      shown.slice(start, start + PAGE_SIZE).forEach(function (p) { frag.appendChild(row(p)); });
      list.replaceChildren(frag);
      list.start = start + 1;
      count.textContent = shown.length === rows.length
        ? rows.length + " papers"
        : shown.length + " of " + rows.length + " papers match";
      at.textContent = shown.length ? "page " + (page + 1) + " of " + pages : "no paper matches";
      prev.disabled = page === 0;
      next.disabled = page >= pages - 1;
    }

    function applyFilter() {
      var words = filter.value.toLowerCase().split(/\s+/).filter(Boolean);
      shown = words.length === 0 ? rows : rows.filter(function (p) {
        var text = ((p[0] || "") + " " + (p[3] || "")).toLowerCase();
        return words.every(function (w) { return text.indexOf(w) !== -1; });
      });
      page = 0;
      draw();
    }

    prev.addEventListener("click", function () { page -= 1; draw(); });
    next.addEventListener("click", function () { page += 1; draw(); });
    filter.addEventListener("input", applyFilter);
    draw();
  }

  document.querySelectorAll("section.paper-list").forEach(setUp);
})();
