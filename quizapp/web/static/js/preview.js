// Author preview: reload the page when the content folder has been re-imported.
(function () {
  "use strict";
  var banner = document.querySelector("[data-preview-events]");
  if (!banner || !window.EventSource) return;
  var shown = banner.getAttribute("data-preview-version");
  var source = new EventSource(banner.getAttribute("data-preview-events"));
  source.onmessage = function (event) {
    var version = String(JSON.parse(event.data).version);
    if (version !== shown) {
      source.close();
      window.location.reload();
    }
  };
})();
