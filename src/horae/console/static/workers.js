// The workers page: one row per worker, its heartbeat's age ticking, its running runs.
"use strict";
(function () {
  const H = window.HoraeConsole;
  const { t, el, $, $$, api, get, query, fmt, timeCell, failed, flash, can, CONFIG, pages, live, listen,
    action, duration, state, link, scheduleHref, zoneOf, emptyRow, json, ACTIVE } = H;

  // One row per worker: its heartbeat's age (by the server's clock, ticking), where it runs,
  // what it serves and the runs it is running now, each a link.
  pages.workers = async function () {
    const tbody = $("#worker-table tbody");
    let seen = [];   // [worker row's age cell, heartbeat instant, server-minus-browser ms]
    async function load() {
      const [response, running] = await Promise.all([api("/workers"), get("/runs" + query({ state: ["running"], limit: 1000 }))]);
      const page = response.body;
      const served = Date.parse(response.headers.get("Date") || "");
      const skew = isNaN(served) ? 0 : served - Date.now();
      const byWorker = {};
      for (const r of running.items) (byWorker[r.worker_id] = byWorker[r.worker_id] || []).push(r);
      seen = [];
      if (!page.items.length) return emptyRow(tbody, 10, t("No workers have registered."));
      tbody.replaceChildren(...page.items.map((w) => {
        const age = el("td", { class: "num age" });
        seen.push([age, Date.parse(w.heartbeat_at), skew]);
        const runs = byWorker[w.id] || [];
        const labels = Object.entries(w.labels || {});
        return el("tr", { "data-worker": w.id, id: w.id, "data-state": w.state },
          el("td", { class: "name" }, el("code", {}, w.id)), el("td", {}, state(w.state)), age,
          el("td", { class: "name" }, w.host), el("td", { class: "num" }, String(w.pid)),
          el("td", {}, w.version || "—"),
          el("td", {}, ...w.queues.map((q, i) => [i ? ", " : "", link("/runs?queue=" + encodeURIComponent(q), q)]).flat()),
          el("td", {}, labels.length ? el("ul", { class: "tags" }, ...labels.map(([k, v]) => el("li", {}, el("code", {}, k + "=" + v)))) : "—"),
          el("td", { class: "running" }, el("span", { class: "slots" }, t("{n} of {m} slots", { n: w.running, m: w.concurrency })),
            runs.length ? el("ul", { class: "plain runs" }, ...runs.map((r) => el("li", {},
              el("a", { href: H.ROOT + "/runs/" + r.id, "data-run": r.id }, "#" + r.id), " ", el("code", {}, r.task), " ",
              r.progress === null ? "" : el("progress", { max: 1, value: r.progress, title: Math.round(r.progress * 100) + "%" })))) : null),
          el("td", {}, timeCell(w.started_at)));
      }));
      tick();
    }
    function tick() {
      for (const [cell, beat, skew] of seen) {
        const seconds = Math.max(0, (Date.now() + skew - beat) / 1000);
        const whole = Math.floor(seconds);
        cell.textContent = t("{age} ago", { age: whole < 60 ? whole + t("s") : duration(whole) });
        cell.classList.toggle("stale", seconds > 30);
      }
    }
    await load();
    setInterval(tick, 1000);
    live(load, { kinds: ["run.state"], every: 5000 });
  };
})();
