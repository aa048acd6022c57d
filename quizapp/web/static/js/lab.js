// The gradient lab: fields that follow the chosen kind, sliders, re-running on every change
// (debounced) with the result panel swapped in place, long-polling for slow runs, a run
// history in this browser, and the training animation. Without it the form still works.
(function () {
  "use strict";
  const TYPING_PAUSE_MS = 300;
  const HISTORY_KEY = "quizapp-lab-history";
  const HISTORY_MAX = 20;
  const form = document.getElementById("lab-form");
  const result = document.getElementById("lab-result");

  // --- training animation (lab page and shared result page) ---------------------------
  function wireTraining(root) {
    root.querySelectorAll(".train-panel").forEach((panel) => {
      const scrub = panel.querySelector(".train-scrub");
      const play = panel.querySelector(".train-play");
      const cursor = panel.querySelector(".train-cursor");
      if (!scrub || !play || !cursor) return;
      panel.querySelector(".train-scrub-label").hidden = false;
      play.hidden = false;
      const steps = scrub.dataset.steps.split(" ");
      const losses = scrub.dataset.loss ? scrub.dataset.loss.split(" ") : [];
      const out = panel.querySelector(".train-step-out");
      const lossOut = panel.querySelector(".train-loss-out");
      const left = parseFloat(cursor.dataset.left), cell = parseFloat(cursor.dataset.cell);
      let timer = null;
      const show = () => {
        const i = Number(scrub.value);
        const x = (left + (i + 0.5) * cell).toFixed(1);
        cursor.setAttribute("x1", x);
        cursor.setAttribute("x2", x);
        out.textContent = steps[i];
        const loss = losses[Number(steps[i]) - 1];
        lossOut.textContent = loss ? "loss " + Number(loss).toPrecision(3) : "";
      };
      const stop = () => { clearInterval(timer); timer = null; play.textContent = "Play"; };
      play.addEventListener("click", () => {
        if (timer) return stop();
        if (Number(scrub.value) >= steps.length - 1) scrub.value = 0;
        play.textContent = "Pause";
        timer = setInterval(() => {
          if (Number(scrub.value) >= steps.length - 1) return stop();
          scrub.value = Number(scrub.value) + 1;
          show();
        }, 120);
      });
      scrub.addEventListener("input", () => { stop(); show(); });
      show();
    });
  }
  if (result) wireTraining(result);
  if (!form || !result) return;

  // --- fields that follow the kind ------------------------------------------------------
  const fields = Array.from(form.querySelectorAll(".lab-field")).map((node) => ({
    node,
    name: node.dataset.field,
    spec: JSON.parse(node.dataset.spec),
    input: node.querySelector("input[name], select[name]"),
    slider: node.querySelector(".lab-slider"),
  }));
  const byName = Object.fromEntries(fields.map((f) => [f.name, f]));
  const kindInput = byName.kind.input;
  form.querySelector(".lab-nojs-note").hidden = true;

  const currentValue = (name) => {
    const f = byName[name];
    if (!f) return "";
    return f.input.value || (f.spec.values[kindInput.value] ?? "");
  };

  function applies(f) {
    const kind = kindInput.value;
    if (!f.spec.kinds.includes(kind)) return false;
    if (!f.spec.requires) return true;
    const [other, allowed] = f.spec.requires;
    return allowed.includes(String(currentValue(other)));
  }

  function syncFields() {
    const kind = kindInput.value;
    fields.forEach((f) => {
      const on = applies(f);
      f.node.hidden = !on;
      // Disabled fields keep their value (for switching back) but are not submitted.
      f.input.disabled = !on;
      if (f.slider) f.slider.disabled = !on;
      const text = f.spec.defaults[kind];
      if (text === undefined) return;
      if (f.input.tagName === "SELECT" && f.name !== "kind") {
        f.input.options[0].textContent = "Default: " + text;
        Array.from(f.input.options).forEach((option) => {
          if (!option.dataset.kinds) return;
          option.disabled = !option.dataset.kinds.split(" ").includes(kind);
          if (option.disabled && option.selected) f.input.value = "";
        });
      } else if (f.input.tagName === "INPUT") {
        f.input.placeholder = text;
      }
      syncSlider(f);
    });
  }

  // --- sliders: a log or linear scale over the number box's value ----------------------
  const SLIDER_STEPS = 1000;
  function toSlider(f, value) {
    const v = Math.min(Math.max(value, f.low), f.high);
    return f.log ? (Math.log(v / f.low) / Math.log(f.high / f.low)) * SLIDER_STEPS : v;
  }
  function fromSlider(f) {
    const position = Number(f.slider.value);
    let value = f.log ? f.low * Math.pow(f.high / f.low, position / SLIDER_STEPS) : position;
    value = Math.round(value / f.step) * f.step;
    const digits = f.step < 1 ? Math.ceil(-Math.log10(f.step)) : 0;
    return Number(value.toFixed(digits));
  }
  function syncSlider(f) {
    if (!f.slider) return;
    const value = parseFloat(f.input.value || f.spec.values[kindInput.value]);
    if (!isNaN(value)) f.slider.value = toSlider(f, value);
  }
  fields.forEach((f) => {
    if (!f.slider) return;
    f.low = parseFloat(f.slider.min);
    f.high = parseFloat(f.slider.max);
    f.step = parseFloat(f.slider.dataset.step) || 1;
    f.log = f.slider.dataset.scale === "log";
    if (f.log) { f.slider.min = "0"; f.slider.max = String(SLIDER_STEPS); }
    f.slider.step = f.log ? "1" : String(f.step);
    f.slider.hidden = false;
    f.slider.addEventListener("input", () => {
      f.input.value = fromSlider(f);
      changed(false);
    });
    f.input.addEventListener("input", () => syncSlider(f));
  });

  // --- running ---------------------------------------------------------------------------
  const status = document.getElementById("lab-status");
  const errorBox = document.getElementById("lab-error");
  const share = document.getElementById("lab-share");
  let timer = null;
  let inflight = null;
  let generation = 0;

  function query() {
    const params = new URLSearchParams();
    fields.forEach((f) => {
      if (!f.input.disabled && f.input.value.trim() !== "") params.set(f.name, f.input.value.trim());
    });
    return params;
  }

  // A change runs at once when nothing is running. While a run is under way, further changes
  // (a slider being dragged) are coalesced into one run that starts when it ends, so the
  // last position always gets its result; a run slower than STALE_MS is abandoned instead.
  const STALE_MS = 400;
  let busySince = 0;
  let queued = false;
  function changed(immediate) {
    clearTimeout(timer);
    if (!busySince || immediate || performance.now() - busySince > STALE_MS) {
      queued = false;
      run();
    } else {
      queued = true;
    }
  }
  function finished(mine) {
    if (mine !== generation) return;
    busySince = 0;
    if (queued) {
      queued = false;
      timer = setTimeout(run, 0);
    }
  }

  function markError(field, html) {
    errorBox.innerHTML = html || "";
    fields.forEach((f) => {
      const bad = field && f.name === field;
      f.node.classList.toggle("has-error", bad);
      if (bad) f.input.setAttribute("aria-invalid", "true");
      else f.input.removeAttribute("aria-invalid");
    });
  }

  async function run() {
    const mine = ++generation;
    busySince = performance.now();
    if (inflight) inflight.abort();
    inflight = new AbortController();
    const params = query();
    history.replaceState(null, "", form.dataset.labUrl + (params.toString() ? "?" + params : ""));
    const body = new URLSearchParams(params);
    body.set("csrf_token", form.querySelector("[name=csrf_token]").value);
    status.textContent = "Running…";
    result.setAttribute("aria-busy", "true");
    try {
      let response = await fetch(form.dataset.panelUrl, {
        method: "POST",
        body,
        headers: { "X-CSRFToken": form.querySelector("[name=csrf_token]").value },
        signal: inflight.signal,
      });
      if (response.status === 400) {
        markError(response.headers.get("X-Error-Field"), await response.text());
        status.textContent = "Not run: see the message below.";
        return;
      }
      if (!response.ok && response.status !== 202) throw new Error("status " + response.status);
      let html = await response.text();
      // Slow runs: hold a request open until the run finishes (long-polling), no fixed timer.
      while (response.status === 202 && mine === generation) {
        show(html, mine);
        const url = result.querySelector(".lab-run").dataset.panelUrl;
        response = await fetch(url + "?wait=20", { signal: inflight.signal });
        if (!response.ok && response.status !== 202) throw new Error("status " + response.status);
        html = await response.text();
      }
      if (mine !== generation) return;
      markError(null, "");
      show(html, mine);
      status.textContent = "Done.";
    } catch (error) {
      if (error.name === "AbortError") return;
      status.textContent = "The lab could not reach the server; press Run to try again.";
    } finally {
      if (mine === generation) result.setAttribute("aria-busy", "false");
      finished(mine);
    }
  }

  function show(html, mine) {
    if (mine !== generation) return;
    result.innerHTML = html;
    const node = result.querySelector(".lab-run");
    result.dataset.runId = node.dataset.runId;
    wireTraining(result);
    if (node.dataset.status === "done") {
      share.href = node.dataset.shareUrl;
      share.hidden = false;
      remember(node);
      document.dispatchEvent(new CustomEvent("quizapp:lab-result", { detail: node.dataset.runId }));
    }
  }

  // --- history (this browser; the account's list is drawn by the server) ---------------
  const list = document.getElementById("history-list");
  const empty = document.querySelector(".history-empty");
  function stored() {
    try { return JSON.parse(localStorage.getItem(HISTORY_KEY)) || []; } catch (e) { return []; }
  }
  function item(entry) {
    const li = document.createElement("li");
    const label = document.createElement("label");
    const box = document.createElement("input");
    box.type = "checkbox"; box.name = "run"; box.value = entry.id;
    label.append(box, " " + entry.summary);
    li.append(label);
    if (entry.verdict) {
      const chip = document.createElement("span");
      chip.className = "verdict-chip verdict-" + entry.verdict;
      chip.textContent = entry.verdict;
      li.append(" ", chip);
    }
    const link = document.createElement("a");
    link.className = "small"; link.href = entry.share; link.textContent = "open";
    li.append(" ", link);
    return li;
  }
  function remember(node) {
    const id = node.dataset.runId;
    if (!/^[0-9a-f]{32}$/.test(id) || list.querySelector(`input[value="${id}"]`)) return;
    const entry = { id, summary: node.dataset.summary.trim(), verdict: node.dataset.verdict, share: node.dataset.shareUrl };
    const entries = [entry, ...stored().filter((e) => e.id !== id)].slice(0, HISTORY_MAX);
    try { localStorage.setItem(HISTORY_KEY, JSON.stringify(entries)); } catch (e) { /* private mode */ }
    list.prepend(item(entry));
    while (list.children.length > HISTORY_MAX) list.lastElementChild.remove();
    empty.hidden = true;
    limitTicks();
  }
  // This browser's runs (results read from the cache are only here), after the account's.
  stored().forEach((entry) => {
    if (!list.querySelector(`input[value="${entry.id}"]`)) list.append(item(entry));
  });
  empty.hidden = list.children.length > 0;
  function limitTicks() {
    const boxes = Array.from(list.querySelectorAll("input[type=checkbox]"));
    const ticked = boxes.filter((b) => b.checked).length;
    boxes.forEach((b) => { b.disabled = !b.checked && ticked >= 4; });
    document.getElementById("overlay-button").disabled = ticked === 0;
  }
  list.addEventListener("change", limitTicks);
  limitTicks();

  // --- events ------------------------------------------------------------------------------
  // Typing waits for a pause (a half-typed number is not worth a run); sliders and menus
  // run at once.
  form.addEventListener("input", (event) => {
    if (event.target.classList.contains("lab-slider")) return;
    if (event.target.tagName === "SELECT") return;
    clearTimeout(timer);
    timer = setTimeout(() => changed(false), TYPING_PAUSE_MS);
  });
  form.addEventListener("change", (event) => {
    if (event.target.tagName !== "SELECT") return;
    syncFields();
    changed(true);
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    changed(true);
  });
  syncFields();
  // Run what the form shows now (from the cache when the server already drew it), so the
  // first screen has a result and it is a run of this visit, in the history and overlayable.
  changed(true);
})();
