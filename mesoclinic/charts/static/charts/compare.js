/* The before/after pair on the photo comparison page (charts/compare.html).

   As served, the two photos stand side by side and the form reloads the page with the two
   chosen. This stacks them into a slider: the second photo is clipped (clip-path) from the
   divider rightwards, so the first shows to the left of it and the second to the right. The
   range input moves the divider by mouse, touch or keyboard (arrows, Page Up/Down, Home/End,
   as any range input does); dragging across the photos moves it too. Choosing a photo swaps
   it in place and keeps the choice in the address for a reload. Side by side stays one
   button away. */
(() => {
  "use strict";
  const pair = document.querySelector("[data-photo-pair]");
  if (!pair) return;
  const form = pair.querySelector(".pair-form");
  const modes = pair.querySelector(".pair-modes");
  const view = pair.querySelector(".pair-view");
  const stage = pair.querySelector(".pair-stage");
  const control = pair.querySelector(".pair-control");
  const range = control.querySelector('input[type="range"]');
  const photo = (slot) => stage.querySelector(`img[data-slot="${slot}"]`);
  const caption = (slot) => pair.querySelector(`[data-caption="${slot}"]`);

  // The stage takes the first photo's proportions, so that both fill it alike.
  function fit() {
    const first = photo("first");
    if (first.width && first.height) view.style.setProperty("--ratio", first.width / first.height);
  }

  function split() {
    const value = Number(range.value);
    view.style.setProperty("--split", `${value}%`);
    range.setAttribute(
      "aria-valuetext",
      `${value}% ${caption("first").textContent}, ${100 - value}% ${caption("second").textContent}`,
    );
  }

  function show(slot) {
    const option = form.elements[slot].selectedOptions[0];
    const img = photo(slot);
    img.width = Number(option.dataset.width);
    img.height = Number(option.dataset.height);
    img.src = option.dataset.src;
    img.alt = `${option.textContent}: ${pair.dataset.subject}`;
    caption(slot).textContent = option.textContent;
  }

  function setMode(mode) {
    view.classList.toggle("is-slider", mode === "slider");
    control.hidden = mode !== "slider";
    for (const button of modes.querySelectorAll("button[data-mode]")) {
      button.setAttribute("aria-pressed", String(button.dataset.mode === mode));
    }
  }

  form.addEventListener("change", (event) => {
    const slot = event.target.name;
    if (slot !== "first" && slot !== "second") return;
    show(slot);
    fit();
    split();
    history.replaceState(null, "", `?${new URLSearchParams(new FormData(form))}`);
  });

  modes.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-mode]");
    if (button) setMode(button.dataset.mode);
  });

  range.addEventListener("input", split);

  function follow(event) {
    const box = stage.getBoundingClientRect();
    range.value = String(Math.round(((event.clientX - box.left) / box.width) * 100));
    split();
  }
  stage.addEventListener("pointerdown", (event) => {
    if (!view.classList.contains("is-slider")) return;
    stage.setPointerCapture(event.pointerId);
    follow(event);
  });
  stage.addEventListener("pointermove", (event) => {
    if (stage.hasPointerCapture(event.pointerId)) follow(event);
  });

  form.querySelector(".pair-submit").hidden = true;
  modes.hidden = false;
  fit();
  split();
  setMode("slider");
})();
