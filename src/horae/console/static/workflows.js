// The workflows pages: the list, and one workflow with its DAG drawn (static/dag.js), its
// steps, callbacks and JSON definition. Read-only: definitions change through the API/CLI.
"use strict";
(function () {
  const H = window.HoraeConsole;
  const { t, el, $, get, query, timeCell, failed, link, emptyRow, json, CONFIG, pages } = H;
  const href = (id, version) => "/workflows/" + encodeURIComponent(id) + (version ? "?version=" + version : "");
  const CALLBACK_LABELS = { on_success: t("On success"), on_failure: t("On failure"), on_finish: t("On finish") };

  pages.workflows = async function () {
    const params = new URLSearchParams(location.search);
    $("#f-search").value = params.get("search") || "";
    const tbody = $("#workflow-table tbody");
    const more = $("#more");
    let cursor = null;
    async function load() {
      const page = await get("/workflows" + query({ search: params.get("search"), cursor, limit: 100 }));
      if (!cursor) tbody.replaceChildren();
      for (const w of page.items) {
        tbody.append(el("tr", { "data-id": w.id },
          el("td", { class: "name" }, link(href(w.id), w.id)),
          el("td", { class: "num" }, String(w.version)),
          el("td", { class: "num" }, String(w.steps.length)),
          el("td", {}, w.description ? el("span", { class: "doc" }, w.description) : "—"),
          el("td", {}, timeCell(w.updated_at))));
      }
      if (!cursor && !page.items.length) {
        emptyRow(tbody, 5, params.get("search") ? t("No workflows match.")
          : t("No workflows yet: add one with the API or `horae workflows add`."));
      }
      cursor = page.next_cursor;
      more.hidden = !cursor;
    }
    more.addEventListener("click", () => load().catch(failed));
    await load();
  };

  pages.workflow = async function () {
    const id = CONFIG.params.id;
    const version = new URLSearchParams(location.search).get("version");
    const [w, kept] = await Promise.all([
      get("/workflows/" + encodeURIComponent(id) + query({ version })),
      get("/workflows/" + encodeURIComponent(id) + "/versions").catch(() => ({ versions: [] }))]);
    // Colour by run state later: a workflow run's {step id: state} goes here.
    window.HoraeDag.draw($("#dag"), w, {});
    const versions = el("span", { class: "versions" }, ...kept.versions.flatMap((v, i) => [
      i ? ", " : "", v === w.version ? el("strong", {}, String(v)) : link(href(id, v), String(v))]));
    $("#workflow-fields").replaceChildren(
      el("dt", {}, t("Version")), el("dd", {}, String(w.version)),
      el("dt", {}, t("Versions kept")), el("dd", {}, versions),
      el("dt", {}, t("Description")), el("dd", {}, w.description ? el("span", { class: "doc" }, w.description) : "—"),
      el("dt", {}, t("Steps")), el("dd", {}, String(w.steps.length)),
      el("dt", {}, t("Created")), el("dd", {}, timeCell(w.created_at)),
      el("dt", {}, t("Updated")), el("dd", {}, timeCell(w.updated_at)));
    const callbacks = Object.keys(CALLBACK_LABELS).filter((name) => w[name]);
    $("#callback-list").replaceChildren(...(callbacks.length ? callbacks.map((name) => el("li", { "data-callback": name },
      el("strong", {}, CALLBACK_LABELS[name]), " ", el("code", {}, w[name].task),
      w[name].kwargs ? el("code", { class: "args" }, " " + JSON.stringify(w[name].kwargs)) : null))
      : [el("li", { class: "empty" }, t("No callbacks."))]));
    $("#step-table tbody").replaceChildren(...w.steps.map((s) => el("tr", { "data-step": s.id },
      el("td", { class: "name" }, el("code", {}, s.id)),
      el("td", {}, el("code", {}, s.task)),
      el("td", {}, ...((s.after || []).length ? s.after.flatMap((a, i) => [i ? " " : "", el("code", {}, a)]) : ["—"])),
      el("td", {}, window.HoraeDag.ruleText(s.trigger_rule || "all_success", t)),
      el("td", {}, typeof s.map === "string" ? el("code", {}, s.map)
        : Array.isArray(s.map) ? t("{n} items", { n: s.map.length }) : "—"),
      el("td", {}, s.args || s.kwargs ? el("code", {}, [s.args, s.kwargs].filter(Boolean).map((a) => JSON.stringify(a)).join(" ")) : "—"))));
    const definition = Object.fromEntries(Object.entries(w).filter(([k, v]) =>
      !["id", "version", "created_at", "updated_at"].includes(k) && v !== null && v !== ""));
    $("#workflow-json").textContent = json(definition);
  };
})();
