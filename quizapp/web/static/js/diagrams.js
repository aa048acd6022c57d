// Draw ```mermaid blocks with the vendored mermaid.js; a closed <details> is drawn when opened.
(function () {
  if (!window.mermaid) return;
  const dark = () => document.documentElement.dataset.theme === "dark" ||
    (!document.documentElement.dataset.theme && window.matchMedia("(prefers-color-scheme: dark)").matches);
  window.mermaid.initialize({ startOnLoad: false, securityLevel: "strict", theme: dark() ? "dark" : "default" });
  const draw = (root) => {
    const nodes = Array.from(root.querySelectorAll("pre.mermaid:not([data-processed])"))
      .filter((node) => node.offsetParent !== null);
    // mermaid parses HTML in labels inside the live page before sanitising it: labels are
    // plain text here, so a tag other than <br> is shown as ‹text› (the CSP would block a
    // handler anyway, but nothing should get that far).
    nodes.forEach((node) => {
      node.textContent = node.textContent.replace(/<(?!br\s*\/?>)(\/?[a-z][^<>]*)>/gi, "‹$1›");
    });
    if (nodes.length) window.mermaid.run({ nodes }).catch((error) => console.warn("diagram", error));
  };
  draw(document);
  // "toggle" does not bubble: listen in the capture phase, so details added later (the
  // author preview swaps the page's content in place) are drawn when opened too.
  document.addEventListener("toggle", (event) => {
    if (event.target.open) draw(event.target);
  }, true);
  document.addEventListener("quizapp:content-replaced", () => draw(document));
})();
