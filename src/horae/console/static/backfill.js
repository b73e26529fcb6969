// A schedule's "Backfill" form: a past range -> the exact fire times it would run (with
// DST markers, and which already have a run) -> confirm; and the schedule's backfills with
// their progress (a running one can be cancelled). Everything goes through the REST API.
"use strict";
(function () {
  const H = window.HoraeConsole;
  const { t, el, $, api, get, CONFIG, can, failed, flash, timeCell, zoneOf, emptyRow, placeErrors, clearErrors } = H;
  const SHOWN = 500;  // fires listed in the preview; the summary counts them all
  const MARKERS = {
    dst_gap_shifted: t("DST gap: this wall time does not exist, it runs at the gap's end"),
    dst_ambiguous_fold_0: t("DST repeat: the first of two identical wall times"),
    dst_ambiguous_fold_1: t("DST repeat: the second of two identical wall times"),
  };
  const STATES = { running: t("running"), done: t("done"), cancelled: t("cancelled") };

  // A datetime-local value (the viewer's zone) as an ISO instant; "" when empty.
  function instant(local) {
    const at = local ? new Date(local) : null;
    return at && !isNaN(at) ? at.toISOString() : "";
  }

  function start() {
    if (document.body.dataset.page !== "schedule") return;
    const id = CONFIG.params.id;
    const path = "/schedules/" + encodeURIComponent(id) + "/backfills";
    const form = $("#backfill-form");
    const card = $("#backfill-card");
    const toggle = $("#backfill-toggle");
    let zone = null, request = null, polling = null;

    async function loadBackfills() {
      const items = (await get(path)).items;
      $("#backfills-card").hidden = !items.length;
      const tbody = $("#backfill-table tbody");
      if (!items.length) return emptyRow(tbody, 6, t("No backfills yet."));
      tbody.replaceChildren(...items.map((b) => {
        const cancel = b.state === "running" && can.operate
          ? el("button", { class: "danger", "data-cancel": b.id, onclick: () => cancelBackfill(b.id) }, t("Cancel")) : null;
        return el("tr", { "data-backfill": b.id, "data-state": b.state },
          el("td", {}, "#" + b.id), el("td", {}, el("span", { class: "state s-" + b.state }, STATES[b.state] || b.state)),
          el("td", {}, timeCell(b.from, zone), " → ", timeCell(b.to, zone)),
          el("td", { class: "num" }, t("{done} of {total} ({existing} already had a run)",
            { done: b.created + b.skipped_existing, total: b.total, existing: b.skipped_existing })),
          el("td", { class: "num" }, String(b.concurrency)), el("td", {}, cancel));
      }));
      // Progress moves while one runs: look again soon, and stop looking when none does.
      clearTimeout(polling);
      if (items.some((b) => b.state === "running")) polling = setTimeout(() => loadBackfills().catch(failed), 2000);
    }

    async function cancelBackfill(backfillId) {
      try {
        await api(path + "/" + backfillId + "/cancel", { method: "POST" });
        flash(t("Backfill #{id} cancelled.", { id: backfillId }));
        await loadBackfills();
      } catch (err) { failed(err); }
    }

    function renderPlan(plan) {
      const create = plan.to_create;
      $("#backfill-summary").textContent = t("{total} fire times; {existing} already have a run; {create} runs to start.",
        { total: plan.total, existing: plan.already_run, create });
      const items = plan.fires.slice(0, SHOWN).map((f) => {
        const li = el("li", { "data-fire": f.fire_time, "data-markers": f.markers.join(" ") }, timeCell(f.fire_time, plan.zone));
        for (const m of f.markers) li.append(" ", el("span", { class: "badge marker", title: m }, MARKERS[m] || m));
        if (f.has_run) li.append(" ", el("span", { class: "badge" }, t("already ran")));
        return li;
      });
      if (plan.fires.length > SHOWN) items.push(el("li", { class: "hint" }, t("…and {n} more", { n: plan.fires.length - SHOWN })));
      $("#backfill-fires").replaceChildren(...items);
      $("#bf-confirm").hidden = create === 0;
      $("#backfill-plan").hidden = false;
    }

    function body(dryRun) {
      return { from: instant($("#bf-from").value), to: instant($("#bf-to").value),
        concurrency: Number($("#bf-concurrency").value || 1), dry_run: dryRun };
    }

    if (toggle) {  // an editor: the form (a viewer sees the list only)
      toggle.addEventListener("click", () => {
        const open = card.hidden;
        card.hidden = !open;
        toggle.setAttribute("aria-expanded", String(open));
        if (open) { card.scrollIntoView({ block: "nearest" }); $("#bf-from").focus(); }
      });
      // The plan shown is the one confirmed: a change to the form hides it until previewed again.
      form.addEventListener("input", () => { $("#backfill-plan").hidden = true; request = null; });
      form.addEventListener("submit", async (e) => {
        e.preventDefault();
        clearErrors(form);
        $("#backfill-plan").hidden = true;
        const asked = body(true);
        const button = $("#bf-preview");
        button.disabled = true;
        try {
          renderPlan((await api(path, { method: "POST", body: asked })).body);
          request = Object.assign({}, asked, { dry_run: false });
        } catch (err) { placeErrors(form, err, $("[data-error-for=body]", form)); } finally { button.disabled = false; }
      });
      $("#bf-confirm").addEventListener("click", async () => {
        if (!request) return;
        const confirmButton = $("#bf-confirm");
        confirmButton.disabled = true;
        try {
          const made = (await api(path, { method: "POST", body: request })).body;
          flash(t("Backfill #{id} started.", { id: made.id }));
          $("#backfill-plan").hidden = true;
          request = null;
          await loadBackfills();
        } catch (err) { placeErrors(form, err, $("[data-error-for=body]", form)); } finally { confirmButton.disabled = false; }
      });
    }

    get("/schedules/" + encodeURIComponent(id)).then((s) => { zone = zoneOf(s.trigger); return loadBackfills(); }).catch(failed);
  }

  document.addEventListener("DOMContentLoaded", start);
})();
