// While a simulation runs, ask for its status with a long-poll (the server answers as soon
// as the run finishes), then reload the page once to show the result.
(function () {
  const pending = Array.from(document.querySelectorAll(".run-pending[data-status-url]"));
  if (!pending.length) return;
  const finished = (run) => run.status === "done" || run.status === "failed";
  const follow = (node) =>
    fetch(node.dataset.statusUrl + "?wait=20", { headers: { Accept: "application/json" } })
      .then((response) => (response.ok ? response.json() : Promise.reject(response.status)))
      .then((run) => (finished(run) ? run : follow(node)));
  Promise.all(pending.map(follow))
    .then(() => window.location.reload())
    .catch(() => setTimeout(() => window.location.reload(), 3000));
})();
