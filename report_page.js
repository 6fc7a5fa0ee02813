(function () {
  "use strict";
  var box = document.getElementById("filter");
  if (!box) { return; }
  box.hidden = false;
  var sections = document.querySelectorAll("main section");
  function apply() {
    var q = box.value.trim().toLowerCase();
    sections.forEach(function (s) {
      var rows = s.querySelectorAll("table:not(.grid) > tbody > tr:not(.none):not(.nomatch)");
      var shown = 0;
      rows.forEach(function (tr) {
        var hit = q === "" || tr.textContent.toLowerCase().indexOf(q) >= 0;
        tr.hidden = !hit;
        if (hit) { shown++; }
      });
      var n = s.querySelector("h2 .n");
      n.textContent = q === "" ? n.dataset.total : shown + " of " + n.dataset.total;
      var none = s.querySelector("table:not(.grid) > tbody > tr.nomatch");
      if (rows.length > 0 && shown === 0) {
        if (!none) {
          none = document.createElement("tr");
          none.className = "nomatch";
          var td = document.createElement("td");
          td.colSpan = s.querySelectorAll("table:not(.grid) > thead th").length;
          none.appendChild(td);
          s.querySelector("tbody").appendChild(none);
        }
        none.firstChild.textContent = "Nothing matches “" + box.value.trim() + "”.";
        none.hidden = false;
      } else if (none) {
        none.hidden = true;
      }
    });
  }
  box.addEventListener("input", apply);
  apply();
})();
