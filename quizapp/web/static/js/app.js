// Theme toggle: follows the system unless the learner picks one, remembered in localStorage.
(function () {
  const root = document.documentElement;
  const saved = localStorage.getItem("quizapp-theme");
  if (saved === "light" || saved === "dark") root.dataset.theme = saved;
  const nav = document.querySelector(".nav-links");
  if (!nav) return;
  const item = document.createElement("li");
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
  item.appendChild(button);
  nav.appendChild(item);
})();
