// Theme toggle: follows the system unless the learner picks one, remembered in localStorage.
(function () {
  const root = document.documentElement;
  const saved = localStorage.getItem("quizapp-theme");
  if (saved === "light" || saved === "dark") root.dataset.theme = saved;
  const slot = document.querySelector(".theme-slot");
  if (!slot) return;
  const button = document.createElement("button");
  button.type = "button";
  button.className = "theme-toggle";
  const isDark = () => root.dataset.theme === "dark" ||
    (!root.dataset.theme && window.matchMedia("(prefers-color-scheme: dark)").matches);
  const label = () => {
    button.textContent = isDark() ? "☀" : "☾";
    button.setAttribute("aria-label", isDark() ? "Switch to light theme" : "Switch to dark theme");
  };
  button.addEventListener("click", () => {
    root.dataset.theme = isDark() ? "light" : "dark";
    localStorage.setItem("quizapp-theme", root.dataset.theme);
    label();
    document.dispatchEvent(new CustomEvent("quizapp:theme"));
  });
  label();
  slot.appendChild(button);
})();

// The phone menu is a <details> and works without this; with it, Escape or a tap outside
// closes it, as people expect of a menu.
(function () {
  const menu = document.querySelector(".nav-menu");
  if (!menu) return;
  document.addEventListener("click", (event) => {
    if (menu.open && !menu.contains(event.target)) menu.open = false;
  });
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && menu.open) {
      menu.open = false;
      menu.querySelector("summary").focus();
    }
  });
})();

// Wide formulas, code and tables scroll sideways on a phone: make each such box reachable
// by keyboard (it can then be scrolled with the arrow keys), and only those that scroll.
(function () {
  const mark = () => {
    document.querySelectorAll(
      ".prose .math.block, .prose div.math, .prose pre, .table-scroll, .prose p, .prose li")
      .forEach((box) => {
        if (box.scrollWidth > box.clientWidth + 1) box.setAttribute("tabindex", "0");
        else if (box.getAttribute("tabindex") === "0") box.removeAttribute("tabindex");
      });
  };
  mark();
  window.addEventListener("resize", mark);
  document.querySelectorAll("details").forEach((details) => details.addEventListener("toggle", mark));
})();
