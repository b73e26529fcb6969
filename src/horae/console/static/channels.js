// The Channels page (admins): the list, a form per kind to add or edit a channel, and
// "Send test" with its delivery result. Secret fields are write-only: the API says only
// whether each is set; an empty secret input keeps the stored value, "Clear" removes it.
"use strict";
(function () {
  const H = window.HoraeConsole;
  const { t, el, $, $$, api, get, timeCell, failed, flash, emptyRow, reasonText, sentence, pages } = H;
  // Each kind's fields (horae.alerts.channels): name -> {required, default}.
  const KINDS = JSON.parse(document.getElementById("channel-kinds").textContent);
  const HELP = {
    host: t("SMTP server host name"),
    port: t("SMTP port (empty: 587 for STARTTLS, 465 for SSL, 25 for none)"),
    security: t("Connection security"),
    username: t("SMTP user name (for servers that require sign-in)"),
    password: t("SMTP password"),
    from_addr: t("Sender address"),
    to: t("Recipient addresses, separated by commas"),
    url: t("The URL the JSON is posted to"),
    webhook_url: t("The robot's webhook URL (it contains the access token)"),
    signing_secret: t("Signing secret"),
    at_all: t("Mention everyone in the group"),
    timeout: t("Timeout in seconds"),
    format: t("Message format"),
  };

  // Fields with a fixed set of values (the values are protocol words, shown as they are).
  const CHOICES = { security: "starttls ssl none".split(" "), format: "card text".split(" ") };
  const KIND_LABELS = { email: t("Email"), webhook: t("Webhook"), slack: t("Slack"),
    dingtalk: t("DingTalk"), wecom: t("WeCom"), feishu: t("Feishu / Lark"), teams: t("Microsoft Teams") };

  function fieldInput(kind, name, spec) {
    const id = "cf-" + name;
    if (CHOICES[name]) {
      const select = el("select", { id, "data-config": name });
      for (const v of CHOICES[name]) select.append(el("option", { value: v }, v));  // protocol words
      return select;
    }
    if (typeof spec.default === "boolean") return el("input", { id, type: "checkbox", "data-config": name });
    const numeric = name === "port" || typeof spec.default === "number";
    return el("input", { id, type: numeric ? "number" : "text", step: numeric ? "any" : null,
      "data-config": name, placeholder: spec.default === null ? null : String(spec.default) });
  }

  function buildFields(kind, channel) {
    const box = $("#channel-fields");
    box.replaceChildren();
    const spec = KINDS[kind];
    for (const [name, f] of Object.entries(spec.config)) {
      const input = fieldInput(kind, name, f);
      const value = channel ? channel.config[name] : undefined;
      if (value !== undefined && value !== null) {
        if (input.type === "checkbox") input.checked = value;
        else input.value = Array.isArray(value) ? value.join(", ") : String(value);
      }
      box.append(el("label", { for: input.id }, HELP[name] || name, f.required ? " *" : ""), input,
        el("p", { class: "field-error", "data-error-for": "config." + name }));
    }
    for (const [name, f] of Object.entries(spec.secrets)) {
      const id = "cs-" + name;
      const set = channel ? channel.secrets[name] : false;
      const input = el("input", { id, type: "password", autocomplete: "new-password", "data-secret": name,
        placeholder: set ? t("set (leave empty to keep)") : t("not set") });
      const status = el("span", { class: "secret-state", "data-secret-state": name }, set ? t("set") : t("not set"));
      const clear = set ? el("label", { class: "check" },
        el("input", { type: "checkbox", "data-clear": name }), " ", t("Clear")) : null;
      box.append(el("label", { for: id }, HELP[name] || name, f.required ? " *" : "", " · ", status), input,
        ...(clear ? [clear] : []), el("p", { class: "field-error", "data-error-for": "secrets." + name }));
    }
  }

  function readConfig(editing) {
    const config = {};
    for (const input of $$("[data-config]")) {
      const name = input.dataset.config;
      let value;
      if (input.type === "checkbox") value = input.checked;
      else if (input.value.trim() === "") value = null;
      else if (input.type === "number") value = Number(input.value);
      else if (name === "to") value = input.value.split(",").map((s) => s.trim()).filter(Boolean);
      else value = input.value.trim();
      if (value !== null || editing) config[name] = value;
    }
    return config;
  }

  function readSecrets() {
    const secrets = {};
    for (const input of $$("[data-secret]")) if (input.value) secrets[input.dataset.secret] = input.value;
    for (const box of $$("[data-clear]")) if (box.checked) secrets[box.dataset.clear] = null;
    return secrets;
  }

  function showResult(channel, result) {
    const box = $("#test-result");
    const ok = result.status === "sent";
    const rows = [[t("Channel"), channel.name], [t("Status"), t(ok ? "Delivered" : "Not delivered")],
      [t("Code"), result.code === null ? "—" : String(result.code)],
      [t("Duration"), H.duration(result.duration)]];
    if (result.error) rows.push([t("Error"), sentence(result.error)]);
    if (result.reply) rows.push([t("Reply"), result.reply]);
    $("#test-result-fields").replaceChildren(...rows.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]));
    box.dataset.status = result.status;
    box.hidden = false;
  }

  pages.channels = async function () {
    const tbody = $("#channel-table tbody");
    const form = $("#channel-form");
    const kind = $("#channel-kind");
    let editing = null;

    function startNew() {
      editing = null;
      form.reset();
      kind.disabled = false;
      $("#channel-form-title").textContent = t("New channel");
      $("#cancel-edit").hidden = true;
      buildFields(kind.value, null);
    }
    function startEdit(ch) {
      editing = ch;
      form.reset();
      $("#channel-name").value = ch.name;
      kind.value = ch.kind;
      kind.disabled = true;  // a channel's kind never changes
      $("#channel-enabled").checked = ch.enabled;
      $("#channel-form-title").textContent = t("Edit channel {name}", { name: ch.name });
      $("#cancel-edit").hidden = false;
      buildFields(ch.kind, ch);
      $("#channel-name").focus();
    }

    async function load() {
      const page = await get("/channels");
      tbody.replaceChildren();
      if (!page.items.length) return emptyRow(tbody, 6, t("No channels yet."));
      for (const ch of page.items) {
        const secrets = Object.entries(ch.secrets).map(([n, s]) => n + ": " + (s ? t("set") : t("not set"))).join(", ");
        const edit = el("button", { type: "button", "data-edit": ch.name }, t("Edit"));
        edit.addEventListener("click", () => startEdit(ch));
        const test = el("button", { type: "button", "data-test": ch.name }, t("Send test"));
        test.addEventListener("click", async () => {
          test.disabled = true;
          try {
            const result = (await api("/channels/" + ch.id + "/test", { method: "POST" })).body;
            showResult(ch, result);
            if (result.status === "sent") flash(t("Test message sent through {name}.", { name: ch.name }));
            else flash(t("Not delivered through {name}: {error}", { name: ch.name, error: sentence(result.error) }), "error");
          } catch (err) { failed(err); }
          test.disabled = false;
        });
        const remove = el("button", { type: "button", class: "danger", "data-remove": ch.name }, t("Delete"));
        remove.addEventListener("click", async () => {
          if (!confirm(t("Delete channel {name}?", { name: ch.name }))) return;
          try {
            await api("/channels/" + ch.id, { method: "DELETE" });
            flash(t("Deleted channel {name}.", { name: ch.name }));
            if (editing && editing.id === ch.id) startNew();
            await load();
          } catch (err) { failed(err); }
        });
        tbody.append(el("tr", { "data-channel": ch.name },
          el("td", { class: "name" }, ch.name), el("td", {}, KIND_LABELS[ch.kind] || ch.kind),
          el("td", {}, ch.enabled ? t("enabled") : t("disabled")),
          el("td", { class: "secrets" }, secrets), el("td", {}, timeCell(ch.updated_at)),
          el("td", { class: "actions" }, edit, " ", test, " ", remove)));
      }
    }

    kind.addEventListener("change", () => buildFields(kind.value, null));
    $("#cancel-edit").addEventListener("click", startNew);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      for (const p of $$(".field-error", form)) p.textContent = "";
      const name = $("#channel-name").value.trim();
      const enabled = $("#channel-enabled").checked;
      try {
        if (editing) {
          await api("/channels/" + editing.id, { method: "PATCH", headers: { "If-Match": '"' + editing.version + '"' },
            body: { name, enabled, config: readConfig(true), secrets: readSecrets() } });
          flash(t("Saved channel {name}.", { name }));
        } else {
          await api("/channels", { method: "POST",
            body: { name, kind: kind.value, enabled, config: readConfig(false), secrets: readSecrets() } });
          flash(t("Created channel {name}.", { name }));
        }
        startNew();
        await load();
      } catch (err) {
        const errors = (err.problem && err.problem.errors) || [];
        let shown = false;
        for (const e of errors) {
          const field = String(e.field).replace(/\[\d+\]$/, "");
          const box = $(`[data-error-for="${field}"]`, form) || $(`[data-error-for="${field.split(".")[0]}"]`, form);
          if (box) { box.textContent = reasonText(e); shown = true; }
        }
        if (!shown) failed(err);
      }
    });
    startNew();
    await load();
  };
})();
