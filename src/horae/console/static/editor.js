// The schedule editor: a task picker that renders an argument form from the task's JSON
// Schema, a trigger builder with a live preview from the API, policies, inline errors.
"use strict";
(function () {
  const H = window.HoraeConsole;
  const { t, el, $, $$, api, get, timeCell, CONFIG, fillArguments, readArguments, placeErrors, reasonText } = H;

  H.pages["schedule-edit"] = async function () {
    const form = $("#schedule-form");
    const editing = CONFIG.params.id || null;
    const taskSelect = $("#s-task"), argBox = $("#arg-form");
    const tasks = {};
    let current = null;

    const zones = (Intl.supportedValuesOf ? Intl.supportedValuesOf("timeZone") : ["UTC"]);
    $("#zones").replaceChildren(...["UTC"].concat(zones).map((z) => el("option", { value: z })));

    function showArguments(values) {
      const task = tasks[taskSelect.value];
      $("#task-doc").textContent = task ? task.doc : "";
      fillArguments(argBox, task, values);
    }

    function kind() { return $("input[name=kind]:checked", form).value; }
    function showKind() {
      const k = kind();
      for (const box of $$("[data-kind]", form)) box.hidden = !box.dataset.kind.split(" ").includes(k);
    }
    function trigger() {
      const k = kind(), tz = $("#s-tz").value.trim() || "UTC";
      if (k === "cron") return { kind: "cron", expr: $("#s-cron").value.trim(), tz };
      if (k === "interval") return { kind: "interval", seconds: Number($("#s-every").value) * Number($("#s-unit").value) };
      // The wall time as typed, with its zone: the server applies the one DST rule and keeps
      // the zone, so the schedule is shown back in the zone the person chose.
      const at = $("#s-at").value;
      return { kind: "date", at: at ? at + (at.length === 16 ? ":00" : "") : "", tz };
    }

    // -- live preview -------------------------------------------------------------------
    let timer = null, seq = 0;
    function schedulePreview() {
      clearTimeout(timer);
      timer = setTimeout(preview, 250);
    }
    async function preview() {
      const mine = ++seq;
      const words = $("#trigger-words"), list = $("#preview-fires");
      clearError("trigger");
      try {
        const r = await previewTrigger({ trigger: trigger(), n: 10, locale: CONFIG.lang });
        if (mine !== seq) return;
        words.textContent = r.body.description;
        list.replaceChildren(...r.body.fires.map((f) => el("li", {}, timeCell(f.utc, r.body.zone))));
        if (!r.body.fires.length) list.replaceChildren(el("li", { class: "empty" }, t("It never fires.")));
      } catch (err) {
        if (mine !== seq) return;
        words.textContent = "";
        list.replaceChildren();
        showErrors(err, "trigger");
      }
    }

    // -- errors ---------------------------------------------------------------------------
    function clearError(prefix) {
      for (const p of $$(".field-error", form)) {
        if (!prefix || p.dataset.errorFor.startsWith(prefix)) p.textContent = "";
      }
    }
    function showErrors(err, fallback) {
      const list = (err.problem && err.problem.errors) || (err.field ? [err] : []);
      let placed = false;
      for (const e of list) {
        const target = $$(".field-error", form).filter((p) => e.field === p.dataset.errorFor || e.field.startsWith(p.dataset.errorFor + "."))
          .sort((a, b) => b.dataset.errorFor.length - a.dataset.errorFor.length)[0];
        if (target) { target.textContent = reasonText(e); placed = true; }
      }
      if (!placed) {
        const box = $(`[data-error-for="${fallback}"]`, form);
        box.textContent = err.message || err.reason || String(err);
      }
    }

    // -- load ---------------------------------------------------------------------------------
    const catalogue = await get("/tasks");
    for (const task of catalogue.items) {
      tasks[task.name] = task;
      taskSelect.append(el("option", { value: task.name }, task.name));
    }
    if (editing) {
      const r = await api("/schedules/" + encodeURIComponent(editing));
      current = { body: r.body, etag: r.headers.get("ETag") };
      const s = r.body;
      taskSelect.value = s.task;
      showArguments(s.kwargs);
      const tr = s.trigger;
      $(`input[name=kind][value=${tr.kind === "any" ? "cron" : tr.kind}]`, form).checked = true;
      if (tr.kind === "cron") { $("#s-cron").value = tr.expr; $("#s-tz").value = tr.tz || "UTC"; }
      if (tr.kind === "interval") {
        const unit = [86400, 3600, 60, 1].find((u) => tr.seconds % u === 0) || 1;
        $("#s-unit").value = String(unit); $("#s-every").value = String(tr.seconds / unit);
      }
      if (tr.kind === "date") {
        $("#s-tz").value = tr.tz || "UTC";
        $("#s-at").value = wallIn(tr.at, tr.tz || "UTC");
      }
      for (const input of $$("[data-policy]", form)) {
        const v = s.policies[input.dataset.policy];
        input.value = v === null || v === undefined ? "" : String(v);
      }
      $("#s-description").value = s.description;
      $("#s-tags").value = s.tags.join(", ");
      $("#s-paused").checked = s.paused;
    } else {
      $("#s-tz").value = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
    }
    showKind();
    taskSelect.addEventListener("change", () => showArguments());
    for (const input of $$("input[name=kind]", form)) input.addEventListener("change", () => { showKind(); schedulePreview(); });
    for (const sel of ["#s-cron", "#s-every", "#s-unit", "#s-at", "#s-tz"]) $(sel).addEventListener("input", schedulePreview);
    preview();

    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      clearError();
      $("#form-error").hidden = true;
      $("#save-error").hidden = true;
      let body;
      try {
        body = {
          task: taskSelect.value, trigger: trigger(), kwargs: readArguments(argBox),
          description: $("#s-description").value, paused: $("#s-paused").checked,
          tags: $("#s-tags").value.split(",").map((x) => x.trim()).filter(Boolean), policies: {},
        };
      } catch (err) { return placeErrors(form, err, $("#save-error")); }
      for (const input of $$("[data-policy]", form)) {
        const raw = input.value.trim();
        if (raw === "") continue;
        body.policies[input.dataset.policy] = input.type === "number" ? Number(raw) : raw;
      }
      if (!editing) body.id = $("#s-id").value.trim();
      const save = $("#save-schedule");
      save.disabled = true;
      try {
        const r = editing
          ? await api("/schedules/" + encodeURIComponent(editing), { method: "PATCH", body, headers: { "If-Match": current.etag } })
          : await api("/schedules", { method: "POST", body });
        location.href = H.ROOT + "/schedules/" + encodeURIComponent(r.body.id);
      } catch (err) { placeErrors(form, err, $("#save-error")); } finally { save.disabled = false; }
    });
  };

  // The console's preview of an unsaved trigger (pure trigger math, no stored data): the
  // API previews stored schedules only.
  async function previewTrigger(body) {
    const response = await fetch(H.ROOT + "/preview", { method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": CONFIG.csrf }, body: JSON.stringify(body) });
    const data = await response.json();
    if (!response.ok) {
      const first = (data.errors || [])[0];
      const e = new Error(first ? first.field + ": " + reasonText(first) : data.detail);
      e.status = response.status; e.problem = data; throw e;
    }
    return { body: data };
  }

  // Epoch seconds as the wall time "2026-03-01T09:00:00" in `zone` (a datetime-local value).
  function wallIn(seconds, zone) {
    const ms = Number(seconds) * 1000;
    return new Date(ms + offsetMinutes(ms, zone) * 60e3).toISOString().slice(0, 19);
  }
  function offsetMinutes(instant, zone) {
    try {
      const parts = new Intl.DateTimeFormat("en-US", { timeZone: zone, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit" })
        .formatToParts(new Date(instant)).reduce((a, p) => (a[p.type] = p.value, a), {});
      const wall = Date.UTC(+parts.year, +parts.month - 1, +parts.day, +parts.hour, +parts.minute, +parts.second);
      return Math.round((wall - Math.floor(instant / 1000) * 1000) / 60e3);
    } catch (err) { return 0; }
  }
})();
