// The tasks page: the catalogue, each task with a "Run…" form (static/args.js).
"use strict";
(function () {
  const H = window.HoraeConsole;
  const { t, el, $, $$, api, get, query, fmt, timeCell, failed, flash, can, CONFIG, pages, live, listen,
    action, duration, state, link, scheduleHref, zoneOf, emptyRow, json, ACTIVE } = H;

  pages.tasks = async function () {
    const page = await get("/tasks");
    const box = $("#task-list");
    if (!page.items.length) return box.replaceChildren(el("p", { class: "empty" }, t("No tasks yet: start a worker.")));
    box.replaceChildren(...page.items.map((task) => {
      const card = el("section", { class: "card", "data-task": task.name },
        el("div", { class: "head" }, el("h2", {}, el("code", {}, task.name)),
          can.operate ? el("button", { class: "run-task", type: "button", "aria-expanded": "false", "data-task": task.name }, t("Run…")) : null),
        el("p", { class: "doc" }, task.doc || t("No description.")),
        el("dl", { class: "fields" },
          el("dt", {}, t("Queue")), el("dd", {}, task.queue), el("dt", {}, t("Mode")), el("dd", {}, task.mode),
          el("dt", {}, t("Retries")), el("dd", {}, String(task.retries)),
          el("dt", {}, t("Timeout (s)")), el("dd", {}, task.timeout === null ? "—" : String(task.timeout)),
          el("dt", {}, t("Concurrency")), el("dd", {}, task.concurrency === null ? "—" : String(task.concurrency))),
        el("details", {}, el("summary", {}, t("Argument schema")), el("pre", {}, json(task.schema))));
      const button = $(".run-task", card);
      if (button) button.addEventListener("click", () => {
        // One form at a time: its fields have the ids the labels point at.
        const open = $(".run-form", card);
        for (const other of $$(".run-form")) other.remove();
        for (const b of $$(".run-task")) b.setAttribute("aria-expanded", "false");
        if (open) return;
        const form = H.runForm(task, {});
        card.insertBefore(form, button.closest(".head").nextSibling);
        button.setAttribute("aria-expanded", "true");
        const first = $("[data-arg]", form) || $("#run-submit", form);
        first.focus();
      });
      return card;
    }));
  };
})();
