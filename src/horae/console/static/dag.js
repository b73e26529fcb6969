// A workflow's DAG as inline SVG, drawn in the browser from its JSON definition (the API's
// answer): steps layered left to right by dependency depth, one arrow per `after` entry.
// `layout` is pure (positions only); `draw` renders it and colours each node by the state
// in `states` ({step id: run state}, empty when no run is shown).
"use strict";
(function () {
  const SVG = "http://www.w3.org/2000/svg";
  const NODE_W = 190, LINE = 17, PAD = 9, GAP_X = 64, GAP_Y = 20, MARGIN = 10, MAX_CHARS = 24;

  // Layer of each step: 0 when it waits for nothing, else one more than the deepest step
  // it waits for (the API refuses cycles and unknown steps; both are tolerated here).
  function depths(steps) {
    const byId = new Map(steps.map((s) => [s.id, s]));
    const depth = new Map();
    const visiting = new Set();
    function of(id) {
      if (depth.has(id)) return depth.get(id);
      const step = byId.get(id);
      if (!step || visiting.has(id)) return -1;
      visiting.add(id);
      const d = (step.after || []).reduce((m, dep) => Math.max(m, of(dep) + 1), 0);
      visiting.delete(id);
      depth.set(id, d);
      return d;
    }
    for (const s of steps) of(s.id);
    return depth;
  }

  // The lines a node shows: step id, task, and what is not the default (map, trigger rule).
  function nodeLines(step, t) {
    const out = [{ text: step.id, cls: "id" }, { text: step.task, cls: "task" }];
    if (typeof step.map === "string") out.push({ text: t("map over {step}", { step: step.map }), cls: "map" });
    else if (Array.isArray(step.map)) out.push({ text: t("map over {n} items", { n: step.map.length }), cls: "map" });
    const rule = step.trigger_rule || "all_success";
    if (rule !== "all_success") out.push({ text: ruleText(rule, t), cls: "rule" });
    return out;
  }

  function ruleText(rule, t) {
    const words = { all_success: t("when all succeeded"), all_done: t("when all are done"),
      any_failed: t("when any failed") };
    return words[rule] || rule;
  }

  // Positions of every node and edge. Within a layer, a step goes near the mean row of the
  // steps it waits for (fewer crossings), definition order breaking ties.
  function layout(definition, t) {
    const steps = (definition && definition.steps) || [];
    const depth = depths(steps);
    const layers = [];
    steps.forEach((s, index) => {
      const d = Math.max(0, depth.get(s.id));
      (layers[d] = layers[d] || []).push({ step: s, index });
    });
    const rank = new Map();
    const nodes = new Map();
    let height = 0;
    const columns = [];
    for (let d = 0; d < layers.length; d++) {
      const layer = layers[d] || [];
      const key = (e) => {
        const rows = (e.step.after || []).filter((a) => rank.has(a)).map((a) => rank.get(a));
        return rows.length ? rows.reduce((a, b) => a + b, 0) / rows.length : e.index;
      };
      layer.sort((a, b) => key(a) - key(b) || a.index - b.index);
      let y = 0;
      const column = layer.map((e, i) => {
        rank.set(e.step.id, i);
        const lines = nodeLines(e.step, t);
        const node = { id: e.step.id, step: e.step, depth: d, lines, w: NODE_W,
          h: PAD * 2 + LINE * lines.length, x: MARGIN + d * (NODE_W + GAP_X), y };
        y += node.h + GAP_Y;
        return node;
      });
      height = Math.max(height, y - GAP_Y);
      columns.push(column);
    }
    for (const column of columns) {  // each layer centred on the tallest
      const used = column.reduce((a, n) => a + n.h, 0) + GAP_Y * Math.max(0, column.length - 1);
      const shift = MARGIN + (height - used) / 2;
      for (const n of column) { n.y += shift; nodes.set(n.id, n); }
    }
    const edges = [];
    for (const s of steps) {
      for (const dep of s.after || []) {
        const a = nodes.get(dep), b = nodes.get(s.id);
        if (!a || !b) continue;
        const x1 = a.x + a.w, y1 = a.y + a.h / 2, x2 = b.x - 2, y2 = b.y + b.h / 2;
        const bend = Math.max(GAP_X / 2, (x2 - x1) / 3);
        edges.push({ from: dep, to: s.id,
          d: `M${x1},${y1} C${x1 + bend},${y1} ${x2 - bend},${y2} ${x2},${y2}` });
      }
    }
    return { nodes: Array.from(nodes.values()), edges,
      width: MARGIN * 2 + Math.max(1, layers.length) * (NODE_W + GAP_X) - GAP_X,
      height: height + MARGIN * 2 };
  }

  function svg(tag, attrs, text) {
    const node = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function clip(text) {
    return text.length > MAX_CHARS ? text.slice(0, MAX_CHARS - 1) + "…" : text;
  }

  // Draw `definition` into `box`; `states` maps a step id to a run state (its node gets
  // the class s-<state>, as state badges do elsewhere).
  function draw(box, definition, states, translate) {
    const t = translate || window.HoraeConsole.t;
    const plan = layout(definition, t);
    const chart = svg("svg", { viewBox: `0 0 ${plan.width} ${plan.height}`, width: plan.width,
      height: plan.height, role: "img", class: "dag-svg" });
    const label = svg("title", {}, t("Workflow graph: {n} steps", { n: plan.nodes.length }));
    const defs = svg("defs");
    const marker = svg("marker", { id: "dag-arrow", viewBox: "0 0 10 10", refX: "9", refY: "5",
      markerWidth: "7", markerHeight: "7", orient: "auto-start-reverse" });
    marker.append(svg("path", { d: "M0,0 L10,5 L0,10 z", class: "arrow" }));
    defs.append(marker);
    chart.append(label, defs);
    for (const e of plan.edges) {
      chart.append(svg("path", { d: e.d, class: "edge", "data-edge": e.from + "→" + e.to,
        "data-from": e.from, "data-to": e.to, "marker-end": "url(#dag-arrow)" }));
    }
    for (const n of plan.nodes) {
      const state = (states || {})[n.id];
      const g = svg("g", { class: "node" + (state ? " s-" + state : ""), "data-step": n.id,
        "data-depth": String(n.depth), transform: `translate(${n.x},${n.y})` });
      g.append(svg("title", {}, n.lines.map((l) => l.text).join("\n") + (state ? "\n" + t(state) : "")));
      g.append(svg("rect", { width: n.w, height: n.h, rx: "6" }));
      n.lines.forEach((l, i) => {
        g.append(svg("text", { x: PAD, y: PAD + LINE * i + 13, class: l.cls }, clip(l.text)));
      });
      chart.append(g);
    }
    box.replaceChildren(chart);
    return plan;
  }

  window.HoraeDag = { layout, draw, ruleText };
})();
