// While a simulation runs, poll its status and reload the page once it has finished.
(function () {
  const pending = document.querySelectorAll(".run-pending[data-status-url]");
  if (!pending.length) return;
  let delay = 400;
  const poll = () => {
    Promise.all(Array.from(pending).map((node) =>
      fetch(node.dataset.statusUrl, { headers: { Accept: "application/json" } })
        .then((response) => response.json())))
      .then((runs) => {
        if (runs.every((run) => run.status === "done" || run.status === "failed")) {
          window.location.reload();
        } else {
          delay = Math.min(delay * 1.5, 3000);
          setTimeout(poll, delay);
        }
      })
      .catch(() => setTimeout(poll, 3000));
  };
  setTimeout(poll, delay);
})();
