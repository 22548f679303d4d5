(function () {
  "use strict";
  // Each model's table, pager and sorting work on their own.
  Array.prototype.forEach.call(document.querySelectorAll(".model"), function (model) {
    var table = model.querySelector("table.versions");
    var tbody = table.tBodies[0];
    var pager = model.querySelector(".pager");
    var pageSize = Number(pager.dataset.pageSize);
    var page = 0, showAll = false;
    var info = pager.querySelector(".page-info");
    var prev = pager.querySelector(".prev"), next = pager.querySelector(".next"), all = pager.querySelector(".all");
    function paginate() {
      var rows = tbody.rows, pages = Math.max(1, Math.ceil(rows.length / pageSize));
      if (page >= pages) page = pages - 1;
      for (var i = 0; i < rows.length; i++) {
        rows[i].hidden = !showAll && (i < page * pageSize || i >= (page + 1) * pageSize);
      }
      info.textContent = showAll ? "all " + rows.length + " versions" : "page " + (page + 1) + " of " + pages + " (" + rows.length + " versions)";
      prev.disabled = showAll || page === 0;
      next.disabled = showAll || page >= pages - 1;
      all.textContent = showAll ? "pages" : "show all";
      pager.hidden = rows.length <= pageSize;
    }
    prev.addEventListener("click", function () { page--; paginate(); });
    next.addEventListener("click", function () { page++; paginate(); });
    all.addEventListener("click", function () { showAll = !showAll; paginate(); });
    var headers = table.tHead.rows[0].cells;
    Array.prototype.forEach.call(headers, function (th, column) {
      th.addEventListener("click", function () {
        var ascending = th.getAttribute("aria-sort") !== "ascending";
        var numeric = th.dataset.type === "num";
        var rows = Array.prototype.slice.call(tbody.rows);
        var key = function (row) {
          var v = row.cells[column].dataset.sort;
          return numeric ? Number(v) : v.toLowerCase();
        };
        rows.sort(function (a, b) {
          var x = key(a), y = key(b);
          var order = x < y ? -1 : x > y ? 1 : 0;
          if (order === 0) order = Number(a.cells[0].dataset.sort) - Number(b.cells[0].dataset.sort);
          return ascending ? order : -order;
        });
        rows.forEach(function (row) { tbody.appendChild(row); });
        Array.prototype.forEach.call(headers, function (h) { h.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
        page = 0;
        paginate();
      });
    });
    paginate();
  });
  function openCard() {
    var id = decodeURIComponent(location.hash.slice(1));
    var card = id && document.getElementById(id);
    if (card && card.tagName === "DETAILS") { card.open = true; }
  }
  window.addEventListener("hashchange", openCard);
  openCard();
})();
