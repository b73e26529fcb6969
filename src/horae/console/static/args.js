// Arguments of a task as a form built from its JSON Schema, shared by the schedule editor,
// the tasks page's "Run…" form and a schedule's "Run now with other arguments"; and the
// placing of an API's field errors next to their fields, where the eye is.
"use strict";
(function () {
  const H = window.HoraeConsole;
  const { t, el, $, $$, api } = H;

  // One input per property of the schema; values come back as JSON types.
  function argumentField(name, prop, required, value) {
    const id = "arg-" + name;
    const type = Array.isArray(prop.type) ? prop.type.find((x) => x !== "null") : prop.type;
    const label = el("label", { for: id }, name, required ? el("span", { class: "req", title: t("required") }, " *") : null);
    let input;
    if (prop.enum) {
      input = el("select", { id }, ...prop.enum.map((v) => el("option", { value: JSON.stringify(v), selected: JSON.stringify(v) === JSON.stringify(value) }, String(v))));
      input.dataset.type = "enum";
    } else if (type === "boolean") {
      input = el("input", { id, type: "checkbox", checked: value === true });
      input.dataset.type = "boolean";
    } else if (type === "integer" || type === "number") {
      input = el("input", { id, type: "number", step: type === "integer" ? "1" : "any", value: value === undefined ? "" : String(value) });
      input.dataset.type = type;
    } else if (type === "string") {
      input = el("input", { id, value: value === undefined ? "" : value });
      input.dataset.type = "string";
    } else {
      input = el("textarea", { id, rows: 2, spellcheck: "false", placeholder: type === "array" ? '["a", "b"]' : "{}" },
        value === undefined ? "" : JSON.stringify(value));
      input.dataset.type = "json";
    }
    input.name = name;
    input.dataset.arg = name;
    if (required) input.required = true;
    const hint = [prop.description, prop.default !== undefined ? t("default: {v}", { v: JSON.stringify(prop.default) }) : null,
      type ? t("type: {v}", { v: type + (prop.items && prop.items.type ? "[" + prop.items.type + "]" : "") }) : null].filter(Boolean).join(" · ");
    return el("div", { class: "field" }, label, input, el("p", { class: "hint" }, hint),
      el("p", { class: "field-error", "data-error-for": "kwargs." + name }));
  }

  // The fieldset's content for `task` (its schema), filled with `values`.
  function fillArguments(box, task, values) {
    if (!task) return box.replaceChildren(el("legend", {}, t("Arguments")), el("p", { class: "hint" }, t("Choose a task to see its arguments.")));
    const schema = task.schema || {};
    const props = schema.properties || {};
    const required = schema.required || [];
    const names = Object.keys(props);
    box.replaceChildren(el("legend", {}, t("Arguments")),
      ...(names.length ? names.map((n) => argumentField(n, props[n], required.includes(n), (values || {})[n]))
        : [el("p", { class: "hint" }, t("This task takes no arguments."))]));
  }

  // The arguments as JSON; throws {errors: [{field, reason}]} for every field that is not
  // valid JSON (caught before the request, shown at the field). A required one left empty
  // is the API's to refuse: its answer names the argument, in the page's language.
  function readArguments(box) {
    const kwargs = {}, errors = [];
    for (const input of $$("[data-arg]", box)) {
      const kind = input.dataset.type;
      if (kind === "boolean") { kwargs[input.name] = input.checked; continue; }
      if (kind === "enum") { kwargs[input.name] = JSON.parse(input.value); continue; }
      const raw = input.value.trim();
      if (raw === "") continue;
      if (kind === "string") kwargs[input.name] = input.value;
      else if (kind === "integer" || kind === "number") kwargs[input.name] = Number(raw);
      else {
        try { kwargs[input.name] = JSON.parse(raw); }
        catch (err) { errors.push({ field: "kwargs." + input.name, reason: t("not valid JSON") }); }
      }
    }
    if (errors.length) throw { errors, message: errors[0].reason };
    return kwargs;
  }

  // An error's field list: the API's problem `errors`, or the client's own. A missing
  // required argument comes back from the API on `kwargs` as "'name' is a required
  // property": it belongs to that argument's field.
  function fieldErrors(err) {
    const list = (err.problem && err.problem.errors) || err.errors || (err.field ? [err] : []);
    return list.map((e) => {
      const missing = e.field === "kwargs" && /^'([^']+)' is a required property/.exec(e.reason || "");
      return missing ? Object.assign({}, e, { field: "kwargs." + missing[1] }) : e;
    });
  }

  // An error's reason in the page's language when the console can translate it (an API
  // refusal's code and params), else as given.
  function reasonOf(e) {
    return H.reasonText ? H.reasonText(e) : e.reason;
  }

  // Puts each error in the form's `[data-error-for]` box that best matches its field, else
  // in `fallback`; brings the first into view and focuses its input. Returns it.
  function placeErrors(form, err, fallback) {
    let first = null;
    for (const e of fieldErrors(err)) {
      const target = $$(".field-error", form).filter((p) => e.field === p.dataset.errorFor || e.field.startsWith(p.dataset.errorFor + "."))
        .sort((a, b) => b.dataset.errorFor.length - a.dataset.errorFor.length)[0];
      if (target) { target.textContent = reasonOf(e); first = first || target; }
    }
    if (!first && fallback) {
      fallback.textContent = err.message || err.reason || String(err);
      fallback.hidden = false;
      first = fallback;
    }
    if (first) {
      first.scrollIntoView({ block: "center" });
      const box = first.closest(".field");
      const input = box && $("input, select, textarea", box);
      (input || first).focus({ preventScroll: true });
    }
    return first;
  }

  function clearErrors(form) {
    for (const p of $$(".field-error", form)) p.textContent = "";
  }

  // A "Run…" form: `task` (catalogue entry) with `values`, and `extra` policies sent along.
  // With `send(kwargs)` (a schedule's "Run now with other arguments": its trigger, so the
  // run is the schedule's, with its queue and policies) there is no queue field.
  // On success, goes to the new run.
  function runForm(task, values, extra, send) {
    const args = el("fieldset", { class: "args" });
    fillArguments(args, task, values);
    const queue = el("input", { id: "run-queue", name: "queue", placeholder: (extra && extra.queue) || task.queue || "default" });
    const queueField = el("div", { class: "field", hidden: Boolean(send) }, el("label", { for: "run-queue" }, t("Queue")), queue,
        el("p", { class: "hint" }, t("Empty: the task's queue.")),
        el("p", { class: "field-error", "data-error-for": "policies.queue" }));
    const problem = el("p", { class: "error", id: "run-form-error", role: "alert", hidden: true });
    const submit = el("button", { class: "primary", type: "submit", id: "run-submit" }, t("Run"));
    const form = el("form", { class: "run-form", id: "run-form", novalidate: true, "data-task": task.name },
      args, queueField,
      el("p", { class: "field-error", "data-error-for": "kwargs" }),
      el("p", { class: "field-error", "data-error-for": "args" }),
      el("p", { class: "actions" }, submit, problem));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      clearErrors(form);
      problem.hidden = true;
      const body = { task: task.name, policies: Object.assign({}, extra || {}) };
      try { body.kwargs = readArguments(args); } catch (err) { return placeErrors(form, err, problem); }
      if (queue.value.trim()) body.policies.queue = queue.value.trim();
      submit.disabled = true;
      try {
        const r = send ? await send(body.kwargs) : await api("/runs", { method: "POST", body });
        location.href = H.ROOT + "/runs/" + r.body.id;
      } catch (err) { placeErrors(form, err, problem); } finally { submit.disabled = false; }
    });
    return form;
  }

  Object.assign(H, { argumentField, fillArguments, readArguments, placeErrors, clearErrors, runForm });
})();
