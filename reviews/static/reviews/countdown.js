// The time left before a case's due time, kept current while the page is open.
// Each <time class="countdown" data-due="ISO 8601"> gets its text in the next
// .countdown-left element: "4 h 12 min left" or "overdue by 2 h 5 min".
(function () {
  "use strict";

  function span(ms) {
    var minutes = Math.floor(ms / 60000);
    var days = Math.floor(minutes / 1440);
    var hours = Math.floor((minutes % 1440) / 60);
    var mins = minutes % 60;
    if (days > 0) return days + " d " + hours + " h";
    if (hours > 0) return hours + " h " + mins + " min";
    return mins + " min";
  }

  function render() {
    var now = Date.now();
    document.querySelectorAll("time.countdown[data-due]").forEach(function (el) {
      var due = Date.parse(el.getAttribute("data-due"));
      var out = el.parentNode.querySelector(".countdown-left");
      if (isNaN(due) || !out) return;
      var left = due - now;
      out.textContent = left >= 0 ? "(" + span(left) + " left)" : "(overdue by " + span(-left) + ")";
      out.classList.toggle("bad", left < 0);
      out.setAttribute("data-seconds-left", String(Math.round(left / 1000)));
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    render();
    window.setInterval(render, 15000);
  });
})();
