// Author preview: when the content folder has been re-imported, fetch this page again and
// swap its main content in place (keeps the scroll position and skips reloading scripts);
// a full reload is the fallback.
(function () {
  "use strict";
  var banner = document.querySelector("[data-preview-events]");
  if (!banner || !window.EventSource || !window.fetch || !window.DOMParser) return;
  var shown = banner.getAttribute("data-preview-version");
  var source = new EventSource(banner.getAttribute("data-preview-events"));

  function swap(html) {
    var next = new DOMParser().parseFromString(html, "text/html");
    var main = next.querySelector("main");
    var current = document.querySelector("main");
    if (!main || !current) return false;
    current.replaceWith(document.importNode(main, true));
    document.title = next.title;
    document.dispatchEvent(new CustomEvent("quizapp:content-replaced"));
    return true;
  }

  source.onmessage = function (event) {
    var version = String(JSON.parse(event.data).version);
    if (version === shown) return;
    shown = version;
    fetch(window.location.href, { credentials: "same-origin" })
      .then(function (response) { return response.text(); })
      .then(function (html) { if (!swap(html)) window.location.reload(); })
      .catch(function () { window.location.reload(); });
  };
})();
