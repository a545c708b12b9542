// rubicon: sortable tables (click a header; click again to reverse). No dependencies.
(function () {
  "use strict";
  var state = {};  // table id -> {col: index, dir: 1 | -1}
  function key(td) {
    var v = td.getAttribute("data-v");
    if (v === null) v = td.textContent.trim();
    if (v === "" || v === "-") return { n: true, v: Infinity, empty: true };
    var f = parseFloat(v);
    if (!isNaN(f) && /^-?[0-9.eE+-]+$/.test(v)) return { n: true, v: f };
    return { n: false, v: v.toLowerCase() };
  }
  function sortTable(table) {
    var s = state[table.id];
    if (!s) return;
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = key(a.cells[s.col]), y = key(b.cells[s.col]);
      if (x.empty !== y.empty) return x.empty ? 1 : -1;  // blanks last either way
      if (x.n && y.n) return (x.v - y.v) * s.dir;
      return (String(x.v) < String(y.v) ? -1 : String(x.v) > String(y.v) ? 1 : 0) * s.dir;
    });
    rows.forEach(function (r) { body.appendChild(r); });
    var ths = table.tHead.rows[0].cells;
    for (var i = 0; i < ths.length; i++) {
      ths[i].classList.remove("asc", "desc");
      if (i === s.col) ths[i].classList.add(s.dir > 0 ? "asc" : "desc");
    }
  }
  document.addEventListener("click", function (ev) {
    var th = ev.target.closest ? ev.target.closest("th[data-sort]") : null;
    if (!th) return;
    var table = th.closest("table");
    var col = th.cellIndex;
    var s = state[table.id];
    state[table.id] = { col: col, dir: s && s.col === col ? -s.dir : 1 };
    sortTable(table);
  });
  // re-apply the chosen order after the dashboard replaces a table
  window.rubiconResort = function () {
    Object.keys(state).forEach(function (id) {
      var t = document.getElementById(id);
      if (t) sortTable(t);
    });
  };
})();
