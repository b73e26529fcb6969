// Horae console: fills the server-rendered pages from the REST API (/api/v1) and keeps
// them live over server-sent events. No dependencies; data is only ever set as text.
"use strict";
(function () {
  const CONFIG = JSON.parse(document.getElementById("horae-config").textContent);
  const API = CONFIG.api;
  const ROOT = CONFIG.root || "";  // the prefix the console is mounted under
  const MESSAGES = CONFIG.messages || {};
  const ROLES = ["viewer", "operator", "editor", "admin"];
  const level = ROLES.indexOf(CONFIG.role);
  const can = { operate: level >= 1, edit: level >= 2 };
  const ACTIVE = ["scheduled", "queued", "running", "retrying"];
  const WAITING = ["scheduled", "queued", "retrying"];
  const FAILED = ["failed", "timed_out", "lost"];  // drawn red; cancelled is not a failure
  const $ = (sel, root) => (root || document).querySelector(sel);
  const $$ = (sel, root) => Array.from((root || document).querySelectorAll(sel));

  // -- text, numbers, times -----------------------------------------------------------
  function t(message, values) {
    let text = MESSAGES[message] || message;
    for (const [k, v] of Object.entries(values || {})) text = text.split("{" + k + "}").join(String(v));
    return text;
  }
  const locale = CONFIG.lang === "zh-CN" ? "zh-CN" : "en-GB";
  const viewerZone = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  const fmtCache = {};
  function fmt(iso, zone) {
    if (!iso) return "—";
    const key = zone || "";
    if (!fmtCache[key]) {
      fmtCache[key] = new Intl.DateTimeFormat(locale, {
        year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit",
        second: "2-digit", hour12: false, timeZone: zone || undefined });
    }
    return fmtCache[key].format(new Date(iso));
  }
  // A time in the viewer's zone, with the schedule's zone beside it when it differs.
  function timeCell(iso, zone) {
    const node = el("span", { class: "time", title: iso || "" }, fmt(iso));
    if (iso && zone && zone !== viewerZone) {
      node.append(" ", el("small", { class: "zone" }, fmt(iso, zone) + " " + zone));
    }
    return node;
  }
  function duration(seconds) {
    if (seconds === null || seconds === undefined) return "—";
    if (seconds < 1) return Math.round(seconds * 1000) + t("ms");
    if (seconds < 60) return seconds.toFixed(1) + t("s");
    const m = Math.floor(seconds / 60), s = Math.round(seconds % 60);
    if (m < 60) return m + t("m") + String(s).padStart(2, "0") + t("s");
    return Math.floor(m / 60) + t("h") + String(m % 60).padStart(2, "0") + t("m");
  }
  // The zone a trigger was given in (cron: default UTC; a one-off: only when one was given).
  function zoneOf(trigger) {
    if (!trigger) return null;
    if (trigger.kind === "cron") return trigger.tz || "UTC";
    return trigger.kind === "date" && trigger.tz ? trigger.tz : null;
  }

  // -- DOM -------------------------------------------------------------------------------
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else if (v === true) node.setAttribute(k, "");
      else node.setAttribute(k, v);
    }
    for (const c of children) if (c !== null && c !== undefined) node.append(c);
    return node;
  }
  const state = (s) => el("span", { class: "state s-" + (s || "none") }, s ? t(s) : "—");
  const link = (href, text) => el("a", { href: ROOT + href }, text);
  const scheduleHref = (id) => "/schedules/" + encodeURIComponent(id);
  // `text` may hold nodes (a link to the run a message is about); a message that links
  // somewhere stays until the next one, so there is time to follow it.
  function flash(text, kind) {
    const box = $("#flash");
    const p = el("p", { class: kind || "ok" }, ...(Array.isArray(text) ? text : [text]));
    box.replaceChildren(p);
    if (kind !== "error" && !p.querySelector("a")) setTimeout(() => { if (p.isConnected) box.replaceChildren(); }, 5000);
  }
  // "Run #12 queued." with "#12" a link to the run; `say(id)` is the translated sentence.
  function runFlash(say, id) {
    const parts = say("\u0000").split("#\u0000");
    const to = link("/runs/" + id, "#" + id);
    // A translation without "#{id}" still links, after its sentence.
    flash(parts.length === 2 ? [parts[0], to, parts[1]] : [say(id), " ", to]);
  }
  function emptyRow(tbody, cols, text) {
    tbody.replaceChildren(el("tr", {}, el("td", { colspan: cols, class: "empty" }, text)));
  }
  function json(value) {
    return value === null || value === undefined ? "—" : JSON.stringify(value, null, 2);
  }

  // -- the API ---------------------------------------------------------------------------
  // Refusals and Horae's own sentences in the page's language (static/reasons.js).
  const { reasonText, sentence, problemText } = window.HoraeReasons;
  class ApiError extends Error {
    constructor(status, problem) {
      super(problemText(problem) || "HTTP " + status);
      this.status = status;
      this.problem = problem || {};
    }
  }
  async function api(path, options) {
    const opts = Object.assign({ method: "GET", headers: {} }, options || {});
    opts.credentials = "same-origin";
    // Accept-Language: the API writes trigger descriptions in the page's language.
    opts.headers = Object.assign({ Accept: "application/json", "Accept-Language": CONFIG.lang }, opts.headers);
    if (opts.method !== "GET") opts.headers["X-CSRF-Token"] = CONFIG.csrf;
    if (opts.body !== undefined && typeof opts.body !== "string") {
      opts.headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(opts.body);
    }
    const response = await fetch(API + path, opts);
    if (response.status === 401) toSignIn();
    const text = await response.text();
    const body = text ? JSON.parse(text) : null;
    if (!response.ok) throw new ApiError(response.status, body);
    return { body, headers: response.headers };
  }
  const get = async (path) => (await api(path)).body;
  function query(params) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) {
      if (Array.isArray(v)) v.forEach((x) => q.append(k, x));
      else if (v !== "" && v !== null && v !== undefined) q.append(k, v);
    }
    const s = q.toString();
    return s ? "?" + s : "";
  }
  function failed(err) {
    flash(t("Error") + ": " + (err.message || err), "error");
  }
  function toSignIn() {
    location.href = ROOT + "/login?next=" + encodeURIComponent(location.pathname.slice(ROOT.length) + location.search);
  }
  let streams = 0;
  function listen(path, handlers) {
    const source = new EventSource(API + path);
    for (const [kind, fn] of Object.entries(handlers)) {
      source.addEventListener(kind, (e) => fn(JSON.parse(e.data)));
    }
    // Signed out elsewhere, the token revoked or the user disabled: the stream says so and
    // ends (a reconnect would get 401, which an EventSource swallows): go to sign-in.
    source.addEventListener("unauthorized", () => { source.close(); toSignIn(); });
    source.onerror = () => {
      // Closed for good (an HTTP error, not a dropped connection it retries): a 401 from
      // an ordinary request sends the person to sign in.
      if (source.readyState === EventSource.CLOSED) api("/events?limit=1").catch(() => {});
    };
    source.onopen = () => {
      const m = $("#live-mark"); if (m) m.textContent = "● " + t("live");
      document.body.dataset.streams = String(++streams);   // tests wait for the stream
    };
    window.addEventListener("pagehide", () => source.close());
    return source;
  }
  // Keeps a page live: `load` runs again when the events stream reports a change (`kinds`,
  // optionally of one `schedule`), and every `every` ms for what has no event (worker
  // heartbeats) -- at most once a second however many events come, one at a time, with a
  // last refresh after a burst (a thousand events cost a request a second, not a thousand).
  const LIVE_INTERVAL = 1000;
  function live(load, options) {
    const opts = options || {};
    let last = Date.now(), timer = null, loading = false, again = false;
    async function refresh() {
      timer = null;
      loading = true;
      last = Date.now();
      try { await load(); } catch (err) { failed(err); } finally {
        loading = false;
        if (again) { again = false; poke(); }
      }
    }
    function poke() {
      if (loading) { again = true; return; }
      if (timer === null) timer = setTimeout(refresh, Math.max(0, LIVE_INTERVAL - (Date.now() - last)));
    }
    const kinds = opts.kinds || ["run.state", "schedule"];
    const handlers = {};
    for (const kind of ["run.state", "run.progress", "schedule.created", "schedule.changed", "schedule.deleted"]) {
      if (kinds.some((k) => kind === k || kind.startsWith(k + "."))) handlers[kind] = poke;
    }
    listen("/events" + query({ kind: kinds, schedule: opts.schedule, run: opts.run }), handlers);
    if (opts.every) setInterval(poke, opts.every);
    return poke;
  }
  // Disabled while it works; the keyboard focus comes back to it afterwards (a disabled
  // control loses the focus, and a keyboard user would be sent back to the page's start).
  async function action(button, path, done) {
    const focused = document.activeElement === button;
    button.disabled = true;
    try {
      const result = await api(path, { method: "POST" });
      if (done) await done(result.body);
    } catch (err) { failed(err); } finally {
      button.disabled = false;
      if (focused && document.activeElement !== button) button.focus();
    }
  }

  // -- charts (inline SVG) ---------------------------------------------------------------
  const SVG = "http://www.w3.org/2000/svg";
  let chartsWatched = null;
  function svg(tag, attrs) {
    const node = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
    return node;
  }
  // series: [{label, values:[...], cls}], stacked bars over `labels`.
  // Drawn at the box's pixel width (viewBox = its size): text keeps its size and shape
  // rather than being stretched with the bars; drawn again when the width changes.
  function barChart(box, labels, series, unit) {
    box._chart = [labels, series, unit];
    if (!chartsWatched) {
      chartsWatched = new ResizeObserver((entries) => {
        for (const e of entries) {
          const [l, s, u] = e.target._chart;
          if (Math.round(e.contentRect.width) !== e.target._chartWidth) barChart(e.target, l, s, u);
        }
      });
    }
    chartsWatched.observe(box);
    const W = Math.max(240, Math.round(box.clientWidth || 600));
    box._chartWidth = Math.round(box.clientWidth || 600);
    const H = 150, pad = 34;
    const totals = labels.map((_, i) => series.reduce((a, s) => a + (s.values[i] || 0), 0));
    const max = Math.max(1, ...totals);
    const chart = svg("svg", { viewBox: `0 0 ${W} ${H + 24}`, width: W, height: H + 24, class: "bars" });
    const bw = (W - pad) / Math.max(1, labels.length);
    labels.forEach((label, i) => {
      let y = H;
      for (const s of series) {
        const v = s.values[i] || 0;
        if (!v) continue;
        const h = (v / max) * (H - 8);
        y -= h;
        const r = svg("rect", { x: pad + i * bw, y, width: Math.max(1, bw - 1), height: h, class: s.cls });
        const title = svg("title", {});
        title.textContent = `${label}: ${t(s.label)} ${v}${unit ? " " + unit : ""}`;
        r.append(title);
        chart.append(r);
      }
    });
    const top = svg("text", { x: 0, y: 12, class: "axis" });
    top.textContent = unit === "s" ? duration(max) : String(max);
    chart.append(top);
    // First label under the first bar; the last ends at the right edge (never clipped).
    [0, labels.length - 1].forEach((i, n) => {
      if (i < 0 || !labels[i] || (n === 1 && i === 0)) return;
      const last = n === 1;
      const txt = svg("text", { x: last ? W - 1 : pad, y: H + 18, class: "axis", "text-anchor": last ? "end" : "start" });
      txt.textContent = labels[i];
      chart.append(txt);
    });
    const shown = series.filter((s) => s.cls !== "other" || s.values.some((v) => v));
    const legend = el("p", { class: "legend" }, ...shown.map((s) => el("span", { class: "key " + s.cls }, t(s.label))));
    box.replaceChildren(chart, legend);
  }

  // -- queues no live worker serves -------------------------------------------------------
  // A run on such a queue waits without an error: the banner says so where the run or the
  // schedule is looked at (the API and the CLI warn when the change is made).
  async function unservedBanner(queue, text) {
    const box = $("#queue-banner");
    if (!box) return;
    let served = true;
    if (queue !== null) {
      const q = (await get("/queues")).items.find((x) => x.queue === queue);
      served = Boolean(q && q.workers > 0);
    }
    box.hidden = served;
    box.replaceChildren(...(served ? [] : [el("p", {}, text)]));
  }

  // -- pages -------------------------------------------------------------------------------
  const pages = {};

  pages.dashboard = async function () {
    await loadDashboard();
    live(loadDashboard, { kinds: ["run.state", "schedule"], every: 15000 });
  };
  async function loadDashboard() {
    const hours = 3;
    $("#chart-span").textContent = t("last {n} hours", { n: hours });
    // One call for the counts, the per-minute rates, the next fires and the failing
    // schedules (GET /stats: bounded reads on the server, whatever the history holds).
    const [workers, st, queues] = await Promise.all([get("/workers"), get("/stats" + query({ hours, top: 10 })), get("/queues")]);
    const counts = Object.assign({}, st.finished, st.active);
    const box = $("#state-counts");
    box.replaceChildren(...["running", "queued", "scheduled", "retrying", "succeeded", "failed", "timed_out", "cancelled", "skipped", "missed", "lost"].map((s) =>
      el("a", { class: "count s-" + s, href: ROOT + "/runs?state=" + s, title: ACTIVE.includes(s) ? t("now") : t("last {n} hours", { n: hours }) },
        el("strong", {}, String(counts[s] || 0)), el("span", {}, t(s)))));
    // Runs per minute, succeeded / failed, as the API counted them.
    const rates = st.per_minute, start = Date.parse(rates.start);
    const labels = rates.succeeded.map((_, i) => fmt(new Date(start + i * rates.step * 1000).toISOString()).slice(-8, -3));
    barChart($("#rate-chart"), labels, [{ label: "succeeded", values: rates.succeeded, cls: "ok" }, { label: "failed", values: rates.failed, cls: "bad" }]);
    $("#next-fires").replaceChildren(st.next_fires.length ? el("ul", { class: "plain" }, ...st.next_fires.map((s) =>
      el("li", {}, link(scheduleHref(s.id), s.id), " ", timeCell(s.next_fire_at)))) : el("p", { class: "empty" }, t("Nothing due.")));
    const failing = st.failing_schedules;
    $("#failing").replaceChildren(failing.length ? el("ul", { class: "plain" }, ...failing.map((s) =>
      el("li", {}, link(scheduleHref(s.id), s.id), " ", state(s.last_state), " ", timeCell(s.last_run_at)))) : el("p", { class: "empty" }, t("No failing schedules.")));
    if (st.failing > failing.length) {
      $("#failing").append(el("p", {}, link("/schedules?state=failing", t("All {n} failing schedules", { n: st.failing }))));
    }
    // Backlog and lag per queue: a lag past a schedule's period means workers fall behind.
    $("#queues").replaceChildren(queues.items.length ? el("table", { class: "list queues" },
      el("thead", {}, el("tr", {}, ...["Queue", "Queued", "Waiting", "Running", "Lag", "Workers", "Slots"].map((h) => el("th", {}, t(h))))),
      el("tbody", {}, ...queues.items.map((q) => {
        // Listed with no worker: its runs wait (or were left running by a worker now gone).
        const unserved = q.workers === 0;
        return el("tr", { "data-queue": q.queue, "data-unserved": unserved ? "true" : null,
          class: unserved || q.lag_seconds >= 60 ? "warn" : "" },
          el("td", {}, link("/runs?queue=" + encodeURIComponent(q.queue), q.queue),
            unserved ? el("strong", { class: "unserved" }, " " + t("no live worker: runs wait")) : null),
          el("td", {}, String(q.queued)), el("td", {}, String(q.scheduled + q.retrying)),
          el("td", {}, String(q.running)), el("td", { class: "lag" }, duration(q.lag_seconds)),
          el("td", { title: unserved ? t("No live worker serves this queue.") : "" }, String(q.workers)),
          el("td", {}, String(q.slots)));
      }))) : el("p", { class: "empty" }, t("No queue has runs or live workers.")));
    const live = workers.items.filter((w) => w.state !== "gone");
    $("#live-workers").replaceChildren(live.length ? el("ul", { class: "plain" }, ...live.map((w) =>
      el("li", {}, el("code", {}, w.id), " ", state(w.state), " ", t("{n} running", { n: w.running }), " · ", w.queues.join(", ")))) : el("p", { class: "empty" }, t("No live workers.")));
  }

  function filtersFromUrl(form) {
    const params = new URLSearchParams(location.search);
    for (const input of $$("input, select", form)) {
      if (params.has(input.name)) input.value = params.get(input.name);
    }
    return params;
  }

  function pauseToggle(s, onChange) {
    const box = el("input", { type: "checkbox", class: "pause-toggle", checked: s.paused,
      "aria-label": t("Pause {id}", { id: s.id }), disabled: !can.operate });
    box.addEventListener("change", async () => {
      const focused = document.activeElement === box;
      box.disabled = true;
      try {
        const r = await api("/schedules/" + encodeURIComponent(s.id) + (box.checked ? "/pause" : "/resume"), { method: "POST" });
        flash(t(box.checked ? "Paused {id}." : "Resumed {id}.", { id: s.id }));
        if (onChange) onChange(r.body);
      } catch (err) { box.checked = !box.checked; failed(err); } finally {
        box.disabled = false;
        if (focused) box.focus();
      }
    });
    return box;
  }

  // Schedules declared in code (app.schedules.ensure, @app.periodic): a start with changed
  // code replaces their definition, so an operator's edit may not last; say so.
  function declaredBadge(s) {
    if (!s.declared) return null;
    return el("span", { class: "badge declared", title: t("Declared in code: when the code changes, its definition replaces edits made here (a pause stays).") }, t("declared in code"));
  }

  pages.schedules = async function () {
    const form = $("#filters");
    const params = filtersFromUrl(form);
    const tbody = $("#schedule-table tbody");
    const more = $("#more");
    const wanted = params.get("state") || "";
    get("/tasks").then((tasks) => $("#task-names").replaceChildren(...tasks.items.map((x) => el("option", { value: x.name })))).catch(() => {});
    let cursor = null;
    async function load(limit) {
      // Every filter and the order are the API's: one page of 100 per call.
      const page = await get("/schedules" + query({
        search: params.get("search"), task: params.get("task"), queue: params.get("queue"),
        tag: params.get("tag"), order: params.get("order") === "next_fire" ? "next_fire" : "",
        paused: wanted === "paused" ? "true" : wanted === "active" ? "false" : "",
        failing: wanted === "failing" ? "true" : "", cursor, limit: limit || 100 }));
      if (!cursor) tbody.replaceChildren();
      for (const s of page.items) {
        const zone = zoneOf(s.trigger);
        const last = s.last_run_id ? link("/runs/" + s.last_run_id, state(s.last_state)) : state(s.last_state);
        tbody.append(el("tr", { "data-id": s.id },
          el("td", { class: "name" }, link(scheduleHref(s.id), s.id), declaredBadge(s), s.description ? el("small", {}, s.description) : null),
          el("td", {}, el("code", {}, s.task)),
          el("td", {}, s.trigger_description),
          el("td", {}, s.paused ? t("paused") : timeCell(s.next_fire_at, zone)),
          el("td", { class: "last" }, last, " ", s.last_run_at ? timeCell(s.last_run_at) : ""),
          el("td", { class: "num" }, duration(s.last_duration)),
          el("td", {}, pauseToggle(s))));
      }
      if (!cursor && !page.items.length) emptyRow(tbody, 7, t("No schedules match."));
      cursor = page.next_cursor;
      more.hidden = !cursor;
    }
    more.addEventListener("click", () => load().catch(failed));
    await load();
    live(() => reloadShown(tbody, "tr[data-id]", (limit) => { cursor = null; return load(limit); }),
      { kinds: ["run.state", "schedule"] });
  };

  // A live list loads again from its top as many rows as it shows (at least one page), so
  // rows fetched with "More" stay and the page does not jump.
  function reloadShown(tbody, rows, load) {
    const shown = tbody.querySelectorAll(rows).length;
    return load(Math.min(1000, Math.max(100, shown)));
  }

  pages.schedule = async function () {
    const id = CONFIG.params.id;
    const path = "/schedules/" + encodeURIComponent(id);
    let s = null, words = null;
    const toggle = $("#pause-toggle");
    function renderSchedule() {
      const zone = zoneOf(s.trigger);
      const p = s.policies;
      const rows = [
        ["Task", el("code", {}, s.task)], ["When", words || s.trigger_description],
        ["Time zone", zone || "UTC"], ["State", s.paused ? t("paused") : t("active")],
        ["Next fire", s.paused ? "—" : timeCell(s.next_fire_at, zone)],
        ["Last run", el("span", {}, state(s.last_state), " ", timeCell(s.last_run_at, zone))],
        ["Arguments", el("code", {}, JSON.stringify(s.kwargs) + (s.args.length ? " " + JSON.stringify(s.args) : ""))],
        ["Queue", p.queue], ["Overlap", t(p.overlap)], ["Catch-up", t(p.catchup)],
        ["Retries", String(p.retries)], ["Timeout (s)", p.timeout === null ? "—" : String(p.timeout)],
        // Fires count the runs the trigger made; succeeded/failed count the outcomes of
        // those runs only (never of runs started by hand), so they cannot exceed fires.
        ["Fires", String(s.fires)], ["Fired runs succeeded", String(s.successes)],
        ["Fired runs failed", String(s.failures)], ["Fires skipped", String(s.skipped)],
        ["Fires missed", String(s.missed)],
        ["Tags", s.tags.join(", ") || "—"], ["Description", s.description || "—"], ["Version", String(s.version)],
      ];
      $("#schedule-fields").replaceChildren(...rows.flatMap(([k, v]) => [el("dt", {}, t(k)), el("dd", {}, v)]));
      const badge = declaredBadge(s);
      const shown = $("#schedule-id + .badge.declared");
      if (shown) shown.remove();
      if (badge) $("#schedule-id").after(badge);
      if (toggle) toggle.textContent = s.paused ? t("Resume") : t("Pause");
    }
    async function loadPreview() {
      try {
        const pv = await get(path + "/preview" + query({ n: 10, locale: CONFIG.lang }));
        $("#trigger-words").textContent = words = pv.description;
        renderSchedule();
        $("#next-fire-list").replaceChildren(...pv.fires.map((f) => el("li", {}, timeCell(f.utc, pv.zone))));
      } catch (err) {
        $("#trigger-words").textContent = err.message;
        $("#next-fire-list").replaceChildren();
      }
    }
    async function loadRuns() {
      const page = await get("/runs" + query({ schedule: id, limit: 50 }));
      const tbody = $("#run-table tbody");
      const zone = zoneOf(s.trigger);
      if (!page.items.length) emptyRow(tbody, 6, t("No runs yet."));
      else tbody.replaceChildren(...page.items.map((r) => el("tr", { "data-run": r.id, "data-state": r.state },
        el("td", {}, link("/runs/" + r.id, "#" + r.id)), el("td", {}, state(r.state)),
        el("td", {}, timeCell(r.fire_time, zone)), el("td", {}, timeCell(r.started_at)),
        el("td", { class: "num" }, duration(r.duration)), el("td", { class: "num" }, String(r.attempt)))));
      const done = page.items.filter((r) => r.duration !== null).reverse();
      const drawnAs = (r) => r.state === "succeeded" ? "ok" : FAILED.includes(r.state) ? "bad" : "other";
      barChart($("#duration-chart"), done.map((r) => "#" + r.id),
        [{ label: "succeeded", values: done.map((r) => drawnAs(r) === "ok" ? r.duration : 0), cls: "ok" },
         { label: "failed", values: done.map((r) => drawnAs(r) === "bad" ? r.duration : 0), cls: "bad" },
         { label: "cancelled", values: done.map((r) => drawnAs(r) === "other" ? r.duration : 0), cls: "other" }], "s");
    }
    const checkQueue = () => unservedBanner(s.policies.queue, t(
      "No live worker serves queue '{queue}': its runs will wait until one starts.", { queue: s.policies.queue })).catch(failed);
    s = await get(path);
    renderSchedule();
    // The controls work as soon as they show, not once the history has loaded.
    if (toggle) toggle.addEventListener("click", () => action(toggle, path + (s.paused ? "/resume" : "/pause"), async (body) => {
      s = body; renderSchedule(); await loadPreview(); flash(t(s.paused ? "Paused {id}." : "Resumed {id}.", { id }));
    }));
    const now = $("#trigger-now");
    if (now) now.addEventListener("click", () => action(now, path + "/trigger", async (run) => {
      runFlash((n) => t("Run #{id} queued.", { id: n }), run.id); await Promise.all([loadRuns(), checkQueue()]);
    }));
    const del = $("#delete-schedule");
    if (del) del.addEventListener("click", async () => {
      if (!confirm(t("Delete schedule {id}?", { id }))) return;
      try {
        await api(path, { method: "DELETE", headers: { "If-Match": '"' + s.version + '"' } });
        location.href = ROOT + "/schedules";
      } catch (err) { failed(err); }
    });
    const other = $("#run-with-arguments");
    if (other) other.addEventListener("click", async () => {
      const card = $("#run-with-card");
      const open = card.hidden;
      card.hidden = !open;
      other.setAttribute("aria-expanded", String(open));
      if (!open) return;
      try {
        const task = await get("/tasks/" + encodeURIComponent(s.task));
        // Through the schedule's trigger: the run is the schedule's (its history, its
        // queue and policies), with these arguments for this run only.
        const send = (kwargs) => api(path + "/trigger", { method: "POST", body: { kwargs } });
        $("#run-with-form").replaceChildren(H().runForm(task, s.kwargs, { queue: s.policies.queue }, send));
        const first = $("#run-with-form [data-arg]");
        card.scrollIntoView({ block: "nearest" });
        if (first) first.focus();
      } catch (err) { failed(err); }
    });
    await Promise.all([loadPreview(), loadRuns(), checkQueue()]);
    live(loadRuns, { kinds: ["run.state"], schedule: id });
    listen("/events" + query({ schedule: id, kind: ["schedule.changed"] }), {
      "schedule.changed": async () => { s = await get(path); renderSchedule(); await Promise.all([loadPreview(), checkQueue()]); },
    });
  };

  // A datetime-local value (the viewer's zone) as an ISO instant; "" when empty or invalid.
  function instant(local) {
    const at = local ? new Date(local) : null;
    return at && !isNaN(at) ? at.toISOString() : "";
  }

  pages.runs = async function () {
    const form = $("#filters");
    const params = filtersFromUrl(form);
    const tbody = $("#run-table tbody");
    const more = $("#more");
    let cursor = null;
    async function load(limit) {
      const page = await get("/runs" + query({ schedule: params.get("schedule_id"), task: params.get("task"),
        queue: params.get("queue"), state: params.get("state") ? [params.get("state")] : [],
        finished_since: instant(params.get("finished_since")),
        finished_until: instant(params.get("finished_until")), cursor, limit: limit || 100 }));
      if (!cursor) tbody.replaceChildren();
      for (const r of page.items) {
        tbody.append(el("tr", { "data-run": r.id, "data-state": r.state },
          el("td", {}, link("/runs/" + r.id, "#" + r.id)), el("td", {}, state(r.state)),
          el("td", {}, el("code", {}, r.task)),
          el("td", { class: "name" }, r.schedule_id ? link(scheduleHref(r.schedule_id), r.schedule_id) : t(r.origin)),
          el("td", {}, timeCell(r.created_at)), el("td", { class: "num" }, duration(r.duration)),
          el("td", {}, r.progress === null ? "—" : el("progress", { max: 1, value: r.progress }))));
      }
      if (!cursor && !page.items.length) emptyRow(tbody, 7, t("No runs match."));
      cursor = page.next_cursor;
      more.hidden = !cursor;
    }
    more.addEventListener("click", () => load().catch(failed));
    await load();
    live(() => reloadShown(tbody, "tr[data-run]", (limit) => { cursor = null; return load(limit); }),
      { kinds: ["run.state", "run.progress"], schedule: params.get("schedule_id") || undefined });
  };

  pages.audit = async function () {
    const tbody = $("#audit-table tbody");
    const more = $("#more");
    let cursor = null;
    async function load() {
      const page = await get("/audit" + query({ cursor, limit: 100 }));
      if (!cursor) tbody.replaceChildren();
      for (const a of page.items) {
        const target = a.target_kind === "schedule" && a.target_id ? link(scheduleHref(a.target_id), a.target_id)
          : a.target_kind === "run" && a.target_id ? link("/runs/" + a.target_id, "#" + a.target_id) : (a.target_id || "");
        tbody.append(el("tr", { "data-action": a.action },
          el("td", {}, timeCell(a.ts)), el("td", {}, a.actor), el("td", {}, t(a.role)),
          el("td", {}, el("code", {}, a.action)), el("td", { class: "name" }, t(a.target_kind), " ", target),
          el("td", {}, el("details", {}, el("summary", {}, t("Show")), el("pre", {}, json({ before: a.before, after: a.after }))))));
      }
      if (!cursor && !page.items.length) emptyRow(tbody, 6, t("Nothing audited yet."));
      cursor = page.next_cursor;
      more.hidden = !cursor;
    }
    more.addEventListener("click", () => load().catch(failed));
    await load();
  };

  pages.users = async function () {
    const tbody = $("#user-table tbody");
    const form = $("#user-form");
    async function load() {
      const page = await get("/users");
      tbody.replaceChildren();
      if (!page.items.length) return emptyRow(tbody, 6, t("No users yet."));
      for (const u of page.items) {
        const mine = CONFIG.user_id === u.id;
        const toggle = el("button", { type: "button", disabled: mine,
          "data-user": u.name }, u.disabled ? t("Enable") : t("Disable"));
        toggle.addEventListener("click", async () => {
          toggle.disabled = true;
          try {
            await api("/users/" + u.id, { method: "PATCH", body: { disabled: !u.disabled } });
            flash(t(u.disabled ? "Enabled {name}." : "Disabled {name}.", { name: u.name }));
            await load();
          } catch (err) { failed(err); toggle.disabled = false; }
        });
        tbody.append(el("tr", { "data-user": u.name },
          el("td", { class: "name" }, u.name), el("td", {}, t(u.role)),
          el("td", {}, u.disabled ? t("disabled") : t("active")),
          el("td", {}, timeCell(u.created_at)), el("td", {}, timeCell(u.password_changed_at)),
          el("td", {}, toggle)));
      }
    }
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      for (const p of $$(".field-error", form)) p.textContent = "";
      const body = { name: $("#user-name").value.trim(), role: $("#user-role").value, password: $("#user-password").value };
      try {
        await api("/users", { method: "POST", body });
        form.reset();
        flash(t("Created user {name}.", { name: body.name }));
        await load();
      } catch (err) {
        const errors = (err.problem && err.problem.errors) || [];
        for (const e of errors) {
          const box = $(`[data-error-for="${e.field}"]`, form);
          if (box) box.textContent = reasonText(e);
        }
        if (!errors.length) failed(err);
      }
    });
    await load();
  };

  const H = () => window.HoraeConsole;
  window.HoraeConsole = { t, el, $, $$, api, get, query, fmt, timeCell, failed, flash, runFlash, can,
    CONFIG, ROOT, pages, live, listen, action, duration, state, link, scheduleHref, zoneOf, emptyRow, json, ACTIVE,
    reasonText, sentence, unservedBanner, WAITING, FAILED };

  // -- start ----------------------------------------------------------------------------------
  document.addEventListener("DOMContentLoaded", () => {
    for (const select of $$("select[data-autosubmit]")) select.addEventListener("change", () => select.form.submit());
    const page = document.body.dataset.page;
    const run = pages[page];
    if (run) run().catch(failed);
  });
})();
