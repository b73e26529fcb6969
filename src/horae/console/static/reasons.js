// Horae console: what the server says, in the page's language. A refusal from the API
// carries a reason code and params (horae.reasons); a run's error is an English sentence
// that may be one of the same templates. Loaded before console.js, which uses
// window.HoraeReasons.
"use strict";
(function () {
  const CONFIG = JSON.parse(document.getElementById("horae-config").textContent);
  const MESSAGES = CONFIG.messages || {};
  const REASONS = CONFIG.reasons || {};  // code -> template, translated on the server
  const TRANSLATED_PARAMS = CONFIG.translated_params || [];
  const t = (message) => MESSAGES[message] || message;

  // The template of the reason's code filled with its params (those naming parts of
  // Horae translated too); the API's English reason when the code is unknown.
  function reasonText(e) {
    if (!e) return "";
    const template = e.code && REASONS[e.code];
    if (!template) return e.reason || e.detail || "";
    let text = template;
    for (const [k, v] of Object.entries(e.params || {})) {
      const value = TRANSLATED_PARAMS.includes(k) ? String(v).split(", ").map(t).join("、") : v;
      text = text.split("{" + k + "}").join(value);
    }
    return text;
  }

  // A sentence Horae wrote in English (a run's error: "cancelled while running", a skip's
  // reason), recognised among the English templates and shown in the page's language.
  let sources = null;
  function sentence(text) {
    if (!text) return text;
    sources = sources || Object.entries(CONFIG.reason_sources || {}).map(([code, source]) => {
      const names = [];
      const pattern = source.split(/(\{\w+\})/).map((part) => {
        const m = /^\{(\w+)\}$/.exec(part);
        if (m) { names.push(m[1]); return "([\\s\\S]*?)"; }
        return part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
      }).join("");
      return [code, names, new RegExp("^" + pattern + "$")];
    });
    for (const [code, names, re] of sources) {
      const m = re.exec(text);
      if (m) return reasonText({ code, reason: text, params: Object.fromEntries(names.map((n, i) => [n, m[i + 1]])) });
    }
    return text;
  }

  // A problem document as one line: its first field error, else its detail.
  function problemText(problem) {
    if (!problem) return "";
    const first = (problem.errors || [])[0];
    if (first) return first.field + ": " + reasonText(first);
    return problem.code ? reasonText(problem) : problem.detail;
  }

  window.HoraeReasons = { reasonText, sentence, problemText };
})();
