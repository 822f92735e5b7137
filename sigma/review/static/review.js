// Keys and controls of the detail view; the grid needs no script.
(function () {
  const detail = document.getElementById("detail");
  if (!detail) return;
  const base = document.getElementById("base");
  const layer = document.getElementById("layer");
  const stage = document.getElementById("stage");
  const showOriginal = document.getElementById("show-original");
  const flicker = document.getElementById("flicker");
  const opacity = document.getElementById("opacity");
  const zoom = document.getElementById("zoom");
  const note = document.getElementById("note");
  const reviewer = document.getElementById("reviewer");
  let timer = null;

  reviewer.value = localStorage.getItem("sigma-reviewer") || detail.dataset.reviewer || "";
  reviewer.addEventListener("change", () => localStorage.setItem("sigma-reviewer", reviewer.value));

  function show(original) {
    base.src = original ? base.dataset.original : base.dataset.edited;
    base.alt = original ? "original" : "edited";
  }
  showOriginal.addEventListener("change", () => show(showOriginal.checked));
  flicker.addEventListener("change", () => {
    clearInterval(timer);
    if (flicker.checked) timer = setInterval(() => show(base.alt === "edited"), 600);
    else show(showOriginal.checked);
  });
  opacity.addEventListener("input", () => { layer.style.opacity = opacity.value / 100; });
  zoom.addEventListener("input", () => { stage.style.transform = `scale(${zoom.value / 100})`; });

  function step(input, delta) {
    input.value = Math.min(+input.max, Math.max(+input.min, +input.value + delta));
    input.dispatchEvent(new Event("input"));
  }

  function go(url) { if (url) window.location.href = url; }

  async function decide(decision) {
    const response = await fetch("/api/decisions", {
      method: "POST",
      headers: {"Content-Type": "application/json"},
      body: JSON.stringify({id: detail.dataset.id, decision, note: note.value, reviewer: reviewer.value || null}),
    });
    const answer = await response.json();
    if (!response.ok) { alert(`not saved: ${answer.detail}`); return; }
    document.getElementById("decision").textContent = decision;
    const s = answer.stats;
    document.getElementById("progress-fill").style.width = `${s.total ? 100 * s.reviewed / s.total : 0}%`;
    const rate = s.accept_rate === null ? "–" : `${Math.round(100 * s.accept_rate)}%`;
    document.getElementById("progress-text").textContent = `${s.reviewed} / ${s.total} reviewed · accept rate ${rate}`;
    // In a view filtered by review state, a pair whose new state leaves the view makes the next pair
    // take its position: stay at the same position then, or one would be skipped.
    const leavesView = detail.dataset.state && detail.dataset.state !== decision;
    if (!leavesView) go(detail.dataset.next);
    else go(detail.dataset.next ? detail.dataset.here : detail.dataset.grid);  // the last one: back to the grid
  }

  document.querySelectorAll(".decide button").forEach((b) => b.addEventListener("click", () => decide(b.dataset.decision)));

  const keys = {
    a: () => decide("accept"), r: () => decide("reject"), f: () => decide("flag"),
    n: () => go(detail.dataset.next), p: () => go(detail.dataset.prev),
    o: () => { showOriginal.checked = !showOriginal.checked; show(showOriginal.checked); },
    t: () => { flicker.checked = !flicker.checked; flicker.dispatchEvent(new Event("change")); },
    "+": () => step(zoom, 25), "-": () => step(zoom, -25),
    "]": () => step(opacity, 10), "[": () => step(opacity, -10),
  };
  document.addEventListener("keydown", (event) => {
    if (event.target.tagName === "INPUT" && event.target.type === "text") return;  // typing a note
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const action = keys[event.key];
    if (action) { event.preventDefault(); action(); }
  });
})();
