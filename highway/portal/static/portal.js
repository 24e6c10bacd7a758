// Refreshes the city page's figures: every data-refresh seconds it fetches
// the page again and swaps in its #live part. The page works without it.
(function () {
  "use strict";
  var main = document.getElementById("main");
  var every = main ? parseInt(main.getAttribute("data-refresh"), 10) : 0;
  if (!every || !window.fetch || !window.DOMParser) { return; }
  function refresh() {
    fetch(window.location.href, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
      .then(function (html) {
        var next = new DOMParser().parseFromString(html, "text/html").getElementById("live");
        var live = document.getElementById("live");
        if (next && live) { live.replaceWith(next); }
      })
      .catch(function () { /* keep the figures shown; try again next time */ });
  }
  window.setInterval(refresh, every * 1000);
})();
