/* Live progress bars in the job admin: each bar polls its job until the job stops running. */
document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll(".iris-progress[data-progress-url]").forEach((box) => {
    const bar = box.querySelector("progress");
    const label = box.querySelector("span");
    const poll = async () => {
      const response = await fetch(box.dataset.progressUrl, { credentials: "same-origin" });
      if (!response.ok) return;
      const state = await response.json();
      const percent = Math.round(100 * state.fraction);
      bar.value = percent;
      const loss = state.current_loss === null ? "" : ` · loss ${state.current_loss.toFixed(4)}`;
      label.textContent = `${percent}% · ${state.iris} IRIs${loss}` + (state.status === "running" || state.status === "queued" ? "" : ` · ${state.status}`);
      if (state.status === "queued" || state.status === "running") setTimeout(poll, 1000);
    };
    poll();
  });
});
