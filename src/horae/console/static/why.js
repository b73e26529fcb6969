// A schedule page's "Why?" form: for an instant (the viewer's zone), or none for the last
// fire and the next one, the verdict of GET /schedules/{id}/explain with its reason in the
// page's language (the API writes it by Accept-Language).
"use strict";
(function () {
  const H = window.HoraeConsole;
  const { t, el, $, get, query, timeCell, failed, link, zoneOf, CONFIG } = H;
  const LABELS = { at: t("Instant"), last: t("Last fire"), next: t("Next fire") };

  const form = $("#why-form");
  if (!form) return;
  const path = "/schedules/" + encodeURIComponent(CONFIG.params.id);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const local = $("#why-at").value;
    const at = local ? new Date(local) : null;
    if (at && isNaN(at)) return;
    const box = $("#why-result");
    try {
      const [s, answer] = await Promise.all([get(path), get(path + "/explain" + query({ at: at ? at.toISOString() : "" }))]);
      const zone = zoneOf(s.trigger);
      box.replaceChildren(...answer.explanations.flatMap((e) => [
        el("dt", {}, LABELS[e.label] || e.label),
        el("dd", { "data-verdict": e.verdict }, timeCell(e.instant, zone), " ",
          el("code", { class: "verdict" }, e.verdict), " ", el("span", { class: "why" }, e.reason),
          e.run_id ? el("span", {}, " ", link("/runs/" + e.run_id, "#" + e.run_id)) : null),
      ]));
    } catch (err) { failed(err); }
  });
})();
