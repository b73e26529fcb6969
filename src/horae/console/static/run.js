// The run page: state, progress, details, and every attempt with its error and logs, live.
"use strict";
(function () {
  const H = window.HoraeConsole;
  const { t, el, $, $$, api, get, query, fmt, timeCell, failed, flash, can, CONFIG, pages, live, listen,
    action, duration, state, link, scheduleHref, zoneOf, emptyRow, json, ACTIVE, sentence, unservedBanner,
    WAITING } = H;

  pages.run = async function () {
    const id = CONFIG.params.id;
    const path = "/runs/" + id;
    const bar = $("#progress"), box = $("#attempts");
    const cancel = $("#cancel-run"), retry = $("#retry-run");
    let run = null, zone = null, attempts = [];
    function setProgress(value, message) {
      const pct = value === null || value === undefined ? 0 : Math.round(value * 100);
      $(".bar", bar).style.width = pct + "%";
      bar.setAttribute("aria-valuenow", String(pct));
      bar.dataset.value = String(pct);
      $("#progress-message").textContent = (value === null || value === undefined ? "" : pct + "% ") + (message || "");
    }
    function render() {
      $("#run-state").replaceChildren(state(run.state));
      const rows = [
        ["Task", el("code", {}, run.task)],
        ["Schedule", run.schedule_id ? link(scheduleHref(run.schedule_id), run.schedule_id) : "—"],
        ["Origin", t(run.origin)], ["Queue", run.queue],
        ["Attempt", t("{n} of {m}", { n: run.attempt, m: run.max_attempts })],
        ["Worker", run.worker_id ? link("/workers#" + encodeURIComponent(run.worker_id), run.worker_id) : "—"],
        ["Fire time", timeCell(run.fire_time, zone)],
        ["Created", timeCell(run.created_at)], ["Started", timeCell(run.started_at)],
        ["Finished", timeCell(run.finished_at)], ["Duration", duration(run.duration)],
      ];
      if (run.retry_of) rows.push(["Retry of", link("/runs/" + run.retry_of, "#" + run.retry_of)]);
      $("#run-fields").replaceChildren(...rows.flatMap(([k, v]) => [el("dt", {}, t(k)), el("dd", {}, v)]));
      $("#run-args").textContent = json({ args: run.args, kwargs: run.kwargs });
      $("#run-result").textContent = json(run.result);
      $("#error-card").hidden = !run.error || !["failed", "timed_out", "cancelled", "lost"].includes(run.state);
      $("#run-error").textContent = sentence(run.error) || "";
      $("#run-traceback").textContent = run.traceback || "";
      setProgress(run.progress, run.progress_message);
      unservedBanner(WAITING.includes(run.state) ? run.queue : null, t(
        "No live worker serves queue '{queue}': this run will wait until one starts.", { queue: run.queue })).catch(failed);
      const activeNow = ACTIVE.includes(run.state);
      if (cancel) cancel.hidden = !activeNow || run.cancel_requested;
      if (retry) retry.hidden = activeNow;
    }
    // One section per attempt, each with its error and its own log lines (lines carry
    // their attempt; lines written before they did go to the latest attempt).
    function attemptSection(n) {
      let section = box.querySelector(`[data-attempt="${n}"]`);
      if (section) return section;
      section = el("section", { class: "attempt", "data-attempt": n },
        el("h3", {}, t("Attempt {n}", { n }), " ", el("span", { class: "attempt-state" })),
        el("pre", { class: "error attempt-error", hidden: true }),
        el("details", { class: "attempt-traceback", hidden: true }, el("summary", {}, t("Traceback")), el("pre", {})),
        el("ol", { class: "logs", "aria-label": t("Logs") }));
      const later = Array.from(box.children).find((c) => Number(c.dataset.attempt) > n);
      box.insertBefore(section, later || null);
      return section;
    }
    function renderAttempts() {
      const tbody = $("#attempt-table tbody");
      if (!attempts.length) emptyRow(tbody, 7, ACTIVE.includes(run.state) ? t("Not started yet.") : t("It never started."));
      else tbody.replaceChildren(...attempts.map((a) => el("tr", { "data-attempt": a.attempt, "data-state": a.state },
        el("td", { class: "num" }, el("a", { href: "#attempt-" + a.attempt }, String(a.attempt))), el("td", {}, state(a.state)),
        el("td", {}, a.worker_id ? el("code", {}, a.worker_id) : "—"),
        el("td", {}, timeCell(a.started_at)), el("td", {}, timeCell(a.finished_at)),
        el("td", { class: "num" }, duration(a.duration)), el("td", { class: "name" }, sentence(a.error) || ""))));
      for (const a of attempts) {
        const section = attemptSection(a.attempt);
        section.id = "attempt-" + a.attempt;
        $(".attempt-state", section).replaceChildren(state(a.state), " ",
          el("small", {}, [a.worker_id, a.started_at ? fmt(a.started_at) : null, a.duration !== null ? duration(a.duration) : null].filter(Boolean).join(" · ")));
        const error = $(".attempt-error", section);
        error.textContent = sentence(a.error) || "";
        error.hidden = !a.error;
        const tb = $(".attempt-traceback", section);
        $("pre", tb).textContent = a.traceback || "";
        tb.hidden = !a.traceback;
      }
    }
    function latestAttempt() {
      return Math.max(1, run.attempt, ...attempts.map((a) => a.attempt));
    }
    function addLog(line) {
      if (box.querySelector(`[data-log="${line.id}"]`)) return;
      const logs = $(".logs", attemptSection(line.attempt || latestAttempt()));
      logs.append(el("li", { "data-log": line.id, class: "l-" + line.level.toLowerCase() },
        el("time", { datetime: line.ts }, fmt(line.ts).slice(-8)), " ", el("b", {}, line.level), " ", line.message));
      logs.scrollTop = logs.scrollHeight;
    }
    run = await get(path);
    if (run.schedule_id) {
      try { zone = zoneOf((await get("/schedules/" + encodeURIComponent(run.schedule_id))).trigger); } catch (err) { zone = null; }
    }
    const loadAttempts = async () => { attempts = (await get(path + "/attempts")).items; renderAttempts(); };
    render();
    await loadAttempts();
    const refresh = async () => { run = await get(path); render(); await loadAttempts(); };
    const logStream = listen(path + "/logs", {
      log: addLog,
      progress: (p) => setProgress(p.progress, p.message),
      // The run ended and so did its log: no reconnecting to hear that again.
      end: async (r) => { logStream.close(); run = r; render(); $("#live-mark").textContent = ""; await loadAttempts(); },
    });
    live(refresh, { kinds: ["run.state"], run: id });
    if (cancel) cancel.addEventListener("click", () => action(cancel, path + "/cancel", async (body) => {
      run = body; render(); flash(t("Cancellation requested."));
    }));
    if (retry) retry.addEventListener("click", () => action(retry, path + "/retry", async (body) => {
      location.href = H.ROOT + "/runs/" + body.id;
    }));
  };
})();
