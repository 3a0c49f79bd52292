// Recovery codes page: "Copy" and "Print" buttons, shown only when this script runs
// (the page works without them; no inline scripts under the Content Security Policy).
(function () {
  "use strict";
  var list = document.getElementById("recovery-codes");
  var copy = document.getElementById("recovery-codes-copy");
  var print = document.getElementById("recovery-codes-print");
  if (!list) {
    return;
  }
  var codes = Array.prototype.map.call(list.querySelectorAll("li"), function (item) {
    return item.textContent.trim();
  });
  if (copy && navigator.clipboard && window.isSecureContext) {
    copy.hidden = false;
    copy.addEventListener("click", function () {
      navigator.clipboard.writeText(codes.join("\n") + "\n").then(function () {
        copy.textContent = copy.getAttribute("data-copied");
      });
    });
  }
  if (print && window.print) {
    print.hidden = false;
    print.addEventListener("click", function () {
      window.print();
    });
  }
})();
