// The review screen, enhanced: keyboard shortcuts, and forms sent with fetch so the next card
// replaces the current one without a full page load. Without this script every shortcut has
// a button and every form still works as a plain post.
(function () {
  const root = document.getElementById("review-root");
  if (!root) return;
  let busy = false;
  let queuedKey = null;  // a key pressed while a card was loading: applied to the new card

  function formOf(selector) {
    return root.querySelector("form[" + selector + "]");
  }

  function focusTitle() {
    const title = root.querySelector("[tabindex='-1']");
    if (title) title.focus({ preventScroll: true });
  }

  async function send(form, submitter) {
    if (busy) return;
    busy = true;
    const data = new FormData(form);
    if (submitter && submitter.name) data.append(submitter.name, submitter.value);
    try {
      const response = await fetch(form.action, {
        method: "POST",
        body: data,
        headers: { "X-Review-Fragment": "1" },
        credentials: "same-origin",
      });
      const html = await response.text();
      if (!response.ok && !response.headers.get("content-type", "").includes("text/html")) {
        throw new Error("status " + response.status);
      }
      if (!response.ok) {
        // An error page: show it whole, as a plain post would have.
        document.open(); document.write(html); document.close();
        return;
      }
      root.innerHTML = html;
      window.scrollTo(0, 0);
      focusTitle();
      document.dispatchEvent(new CustomEvent("quizapp:review-rendered"));
    } catch (error) {
      form.submit();  // the network failed: fall back to the plain form post
    } finally {
      busy = false;
      if (queuedKey) {
        const key = queuedKey;
        queuedKey = null;
        handleKey(key, null, () => {});
      }
    }
  }

  root.addEventListener("submit", (event) => {
    const form = event.target.closest("form[data-review-form]");
    if (!form) return;
    event.preventDefault();
    send(form, event.submitter);
  });

  // Returns whether the key did something on the review screen.
  function handleKey(key, target, prevent) {
    const typing = target && (target.tagName === "TEXTAREA" || target.tagName === "SELECT" ||
      (target.tagName === "INPUT" && !["radio", "checkbox", "submit", "button"].includes(target.type)));
    const front = formOf("data-review-reveal");
    const back = formOf("data-review-rate");
    if ((key === " " || key === "Enter") && front) {
      if (typing && key === " ") return;
      if (target && target.tagName === "BUTTON" && key === "Enter") return;  // its own click
      prevent();
      send(front, front.querySelector("button[type=submit]"));
      return;
    }
    if (typing) return;
    if (/^[1-9]$/.test(key)) {
      if (back) {
        const button = back.querySelector("button[data-key='" + key + "']");
        if (button) { prevent(); send(back, button); }
      } else if (front) {
        // The n-th option as shown (this learner's order), whatever its authored index.
        const option = front.querySelectorAll("input[type=radio], input[type=checkbox]")[key - 1];
        if (option) {
          prevent();
          option.checked = option.type === "checkbox" ? !option.checked : true;
        }
      }
      return;
    }
    if (key === "u" || key === "U") {
      const undo = formOf("data-review-undo");
      if (undo) { prevent(); send(undo, null); }
    }
  }

  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey || event.defaultPrevented) return;
    if (busy) {
      if ([" ", "Enter", "u", "U"].includes(event.key) || /^[1-9]$/.test(event.key)) {
        event.preventDefault();
        queuedKey = event.key;
      }
      return;
    }
    handleKey(event.key, event.target, () => event.preventDefault());
  });
})();
