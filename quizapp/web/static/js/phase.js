// Phase diagram: cells fill in as they finish. Each request is held open by the server until
// more cells are done (long-polling), then the figure is swapped in place.
(function () {
  "use strict";
  const holder = document.getElementById("phase-figure");
  if (!holder) return;
  async function follow() {
    for (;;) {
      const figure = holder.querySelector(".phase-figure");
      if (!figure || figure.dataset.complete === "true") return;
      try {
        const response = await fetch(figure.dataset.url + "?wait=20&seen=" + figure.dataset.seen);
        if (!response.ok) return;
        holder.innerHTML = await response.text();
      } catch (error) {
        await new Promise((resolve) => setTimeout(resolve, 2000));
      }
    }
  }
  follow();
})();
