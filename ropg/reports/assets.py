"""The inline stylesheet and script of ``report.html`` (no CDN, no fonts to fetch)."""

from __future__ import annotations

CSS = """
:root { --ink:#1f2328; --muted:#5b6470; --line:#e1e4e8; --panel:#ffffff; --page:#f4f6f8;
  --head:#1d2b3a; --accent:#d9822b; --mark:#9a5b00; }
* { box-sizing:border-box; }
body { margin:0; background:var(--page); color:var(--ink);
  font:14px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif; }
header.top { background:var(--head); color:#fff; padding:22px 0 18px; }
.wrap { max-width:1200px; margin:0 auto; padding:0 24px; }
header.top h1 { margin:0 0 10px; font-size:22px; font-weight:600; letter-spacing:.2px; }
.facts { display:flex; flex-wrap:wrap; gap:6px 8px; margin:0; padding:0; list-style:none; }
.facts li { background:rgba(255,255,255,.1); border:1px solid rgba(255,255,255,.18);
  border-radius:4px; padding:2px 8px; font-size:12.5px; }
.facts b { font-weight:600; color:#c9d6e3; margin-right:4px; }
nav.toc { position:sticky; top:0; z-index:5; background:#fff; border-bottom:1px solid var(--line); }
nav.toc .wrap { display:flex; flex-wrap:wrap; gap:2px 18px; padding-top:8px; padding-bottom:8px; }
nav.toc a { color:var(--muted); text-decoration:none; font-size:13px; }
nav.toc a:hover { color:var(--ink); text-decoration:underline; }
main { padding:8px 0 40px; }
section.card { background:var(--panel); border:1px solid var(--line); border-radius:8px;
  padding:18px 24px 22px; margin:18px 0; }
section.card > h2 { margin:0 0 6px; font-size:18px; font-weight:600; }
section.card h3 { margin:22px 0 8px; font-size:15px; font-weight:600; }
section.card h4 { margin:14px 0 6px; font-size:14px; font-weight:600; color:#333; }
p.intro, p.legend, p.note, figcaption { color:var(--muted); font-size:12.5px; }
p.legend { margin:6px 0 0; }
.table-wrap { overflow-x:auto; }
table { border-collapse:collapse; font-variant-numeric:tabular-nums; font-size:13px;
  margin:4px 0 2px; }
th, td { padding:5px 10px; border-bottom:1px solid var(--line); text-align:left;
  white-space:nowrap; }
thead th { background:#f1f3f6; border-bottom:1px solid #cfd5dc; font-weight:600; }
tbody tr:hover { background:#f8fafc; }
tbody th { font-weight:500; }
td.num { text-align:right; }
td.best .v { font-weight:700; }
sup { color:var(--mark); font-size:.72em; margin-left:1px; }
table.sortable thead th { cursor:pointer; user-select:none; position:relative; padding-right:18px; }
table.sortable thead th::after { content:"\\2195"; position:absolute; right:5px; color:#aab2bd;
  font-size:11px; }
table.sortable thead th[aria-sort=ascending]::after { content:"\\25B2"; color:var(--ink); }
table.sortable thead th[aria-sort=descending]::after { content:"\\25BC"; color:var(--ink); }
.grids { display:flex; flex-wrap:wrap; gap:0 40px; align-items:flex-start; }
table.heatmap td.num { min-width:64px; text-align:center; }
.charts { display:grid; grid-template-columns:repeat(auto-fill,minmax(460px,1fr)); gap:14px;
  align-items:start;
  margin:8px 0; }
figure.chart { margin:0; border:1px solid var(--line); border-radius:6px; padding:10px 12px;
  background:#fff; }
figure.chart svg { max-width:100%; height:auto; display:block; margin:0 auto; }
figure.chart figcaption { margin-bottom:6px; }
figure.chart figcaption b { color:var(--ink); font-weight:600; font-size:13px; }
figure.chart details { margin-top:4px; }
details.meta { margin:10px 0 0; }
details summary { cursor:pointer; color:var(--muted); font-size:13px; }
details[open] summary { margin-bottom:6px; }
pre { background:#f6f8fa; border:1px solid var(--line); border-radius:6px; padding:10px 12px;
  font-size:12px; max-height:520px; overflow:auto; }
code { font-size:12px; background:#f1f3f6; padding:0 3px; border-radius:3px; }
footer { color:var(--muted); font-size:12px; padding:12px 0 30px; }
@media print { nav.toc { position:static; } section.card { break-inside:avoid; } }
"""

SORT_SCRIPT = """
(function () {
  function key(row, index) {
    var cell = row.cells[index];
    if (!cell) { return null; }
    var raw = cell.getAttribute("data-value");
    if (raw === null) { raw = cell.textContent.trim(); }
    if (raw === "" || raw === "\\u2013") { return null; }
    var number = Number(raw);
    return isNaN(number) ? raw.toLowerCase() : number;
  }
  function compare(a, b) {
    if (a === null) { return b === null ? 0 : 1; }
    if (b === null) { return -1; }
    if (typeof a === typeof b) { return a < b ? -1 : (a > b ? 1 : 0); }
    return typeof a === "number" ? -1 : 1;
  }
  document.querySelectorAll("table.sortable").forEach(function (table) {
    var body = table.tBodies[0];
    if (!table.tHead || !body) { return; }
    var original = Array.prototype.slice.call(body.rows);
    var headers = Array.prototype.slice.call(table.tHead.rows[0].cells);
    headers.forEach(function (header, index) {
      header.setAttribute("aria-sort", "none");
      header.tabIndex = 0;
      header.title = "Sort by this column";
      function sort() {
        var state = header.getAttribute("aria-sort");
        var next = state === "none" ? "descending"
          : (state === "descending" ? "ascending" : "none");
        headers.forEach(function (other) { other.setAttribute("aria-sort", "none"); });
        header.setAttribute("aria-sort", next);
        var rows = original.slice();
        if (next !== "none") {
          var sign = next === "ascending" ? 1 : -1;
          rows.sort(function (a, b) {
            var x = key(a, index), y = key(b, index);
            if (x === null || y === null) { return compare(x, y); }
            return sign * compare(x, y);
          });
        }
        rows.forEach(function (row) { body.appendChild(row); });
      }
      header.addEventListener("click", sort);
      header.addEventListener("keydown", function (event) {
        if (event.key === "Enter" || event.key === " ") { event.preventDefault(); sort(); }
      });
    });
  });
})();
"""
