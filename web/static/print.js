// Certificate page: offer a Print button when scripts run (without them, the page says to use the browser's Print).
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    var slot = document.querySelector("[data-print-slot]");
    if (!slot) { return; }
    var button = document.createElement("button");
    button.type = "button";
    button.className = "button";
    button.textContent = "Print or save as PDF";
    button.addEventListener("click", function () { window.print(); });
    slot.appendChild(button);
  });
}());
