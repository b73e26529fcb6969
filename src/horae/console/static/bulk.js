// A schedule's bulk actions: cancel its waiting runs, retry its failed ones. Each counts
// first (a dry run of the same filter), asks with the count, then changes them at once.
"use strict";
(function () {
  document.addEventListener("DOMContentLoaded", () => {
    const H = window.HoraeConsole;
    const { t, $, api, flash, failed } = H;
    const id = ($("#schedule-id") || {}).textContent;
    if (!id) return;
    const bulk = (button, path, ask, told) => button && button.addEventListener("click", async () => {
      button.disabled = true;
      try {
        const count = (await api(path, { method: "POST", body: { schedule: id, dry_run: true } })).body;
        if (!count.matched) return flash(t("Nothing to do: no runs match."));
        if (!confirm(ask(count.matched))) return;
        const done = (await api(path, { method: "POST", body: { schedule: id } })).body;
        flash(told(done.changed));
      } catch (err) { failed(err); } finally { button.disabled = false; }
    });
    bulk($("#cancel-waiting"), "/runs:cancel", (n) => t("Cancel {n} waiting runs of schedule {id}?", { n, id }),
      (n) => t("Cancelled {n} runs.", { n }));
    bulk($("#retry-failed"), "/runs:retry", (n) => t("Retry {n} failed runs of schedule {id}?", { n, id }),
      (n) => t("Queued {n} retries.", { n }));
  });
})();
