// Draw ```mermaid blocks. mermaid.js is large, so it is fetched only once a diagram is on
// screen (a closed <details> is drawn when opened); a theme switch redraws every diagram.
(function () {
  const script = document.currentScript;
  const root = document.documentElement;
  const dark = () => root.dataset.theme === "dark" ||
    (!root.dataset.theme && window.matchMedia("(prefers-color-scheme: dark)").matches);
  let loading = null;
  const load = () => {
    if (window.mermaid) return Promise.resolve(window.mermaid);
    if (!loading) {
      loading = new Promise((resolve, reject) => {
        const tag = document.createElement("script");
        tag.src = script.dataset.mermaid;
        tag.onload = () => resolve(window.mermaid);
        tag.onerror = reject;
        document.head.appendChild(tag);
      });
    }
    return loading;
  };
  const configure = (mermaid) =>
    mermaid.initialize({ startOnLoad: false, securityLevel: "strict", theme: dark() ? "dark" : "default" });
  const draw = (scope) => {
    const nodes = Array.from(scope.querySelectorAll("pre.mermaid:not([data-processed])"))
      // A closed <details> may still lay its content out (content-visibility): ask it.
      .filter((node) => !node.closest("details:not([open])") && node.getClientRects().length);
    if (!nodes.length) return;
    // mermaid parses HTML in labels inside the live page before sanitising it: labels are
    // plain text here, so a tag other than <br> is shown as ‹text› (the CSP would block a
    // handler anyway, but nothing should get that far).
    nodes.forEach((node) => {
      if (!node.dataset.source) {
        node.dataset.source = node.textContent.replace(/<(?!br\s*\/?>)(\/?[a-z][^<>]*)>/gi, "‹$1›");
      }
      node.textContent = node.dataset.source;
    });
    load().then((mermaid) => {
      configure(mermaid);
      return mermaid.run({ nodes });
    }).catch((error) => console.warn("diagram", error));
  };
  draw(document);
  // "toggle" does not bubble: listen in the capture phase, so details added later (the
  // author preview swaps the page's content in place) are drawn when opened too.
  document.addEventListener("toggle", (event) => {
    if (event.target.open) draw(event.target);
  }, true);
  document.addEventListener("quizapp:content-replaced", () => draw(document));
  document.addEventListener("quizapp:theme", () => {
    document.querySelectorAll("pre.mermaid[data-processed]").forEach((node) => {
      node.removeAttribute("data-processed");
      node.textContent = node.dataset.source || node.textContent;
    });
    draw(document);
  });
})();
