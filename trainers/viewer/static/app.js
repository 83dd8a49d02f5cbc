// atropos-envs view. Model text is untrusted: it only ever reaches the page as text nodes
// (el() appends strings with document.createTextNode); nothing here assigns innerHTML.
"use strict";

const PAGE = 50;
const state = { info: null, offset: 0, total: 0, sort: "id", order: "", selected: null };

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.appendChild(typeof child === "object" ? child : document.createTextNode(String(child)));
  }
  return node;
}

function clear(node) {
  while (node.firstChild) node.removeChild(node.firstChild);
  return node;
}

async function api(path) {
  const response = await fetch(path);
  const body = await response.json();
  if (!response.ok) throw new Error(body.error || response.statusText);
  return body;
}

function status(text) {
  document.getElementById("status").textContent = text;
}

function num(x) {
  return x === null || x === undefined ? "–" : Number(x).toFixed(3);
}

function fmt(x, digits = 3) {
  if (x === null || x === undefined) return "–";
  return typeof x === "number" ? (Number.isInteger(x) ? String(x) : x.toFixed(digits)) : String(x);
}

// ---- tabs -------------------------------------------------------------------------------------
function showTab(name) {
  for (const tab of document.querySelectorAll(".tab")) tab.classList.toggle("active", tab.dataset.tab === name);
  for (const view of document.querySelectorAll(".view")) view.classList.toggle("hidden", view.id !== "view-" + name);
  if (name === "runs") loadRun();
}

// ---- samples table ----------------------------------------------------------------------------
const COLUMNS = [
  ["id", "#"], ["source", "source"], ["env", "env"], ["task_id", "task"], ["step", "step"],
  ["reward", "reward"], ["components", "components"], ["outcome", "outcome"], ["kept", "kept"],
  ["tokens", "tokens"], ["preview", "reply"],
];
const SORTABLE = new Set(["id", "env", "task_id", "step", "reward", "outcome", "tokens"]);

function filterParams() {
  const params = new URLSearchParams();
  for (const [key, value] of new FormData(document.getElementById("filters"))) if (value !== "") params.set(key, value);
  if (state.sort !== "id") params.set("sort", state.sort);
  if (state.order) params.set("order", state.order);
  return params;
}

function header() {
  const row = clear(document.querySelector("#samples thead tr"));
  for (const [key, label] of COLUMNS) {
    const arrow = state.sort === key ? (state.order === "desc" ? " ▼" : " ▲") : "";
    const th = el("th", { "data-col": key }, label + arrow);
    if (SORTABLE.has(key)) {
      th.classList.add("sortable");
      th.addEventListener("click", () => {
        state.order = state.sort === key && state.order !== "desc" ? "desc" : "";
        state.sort = key;
        state.offset = 0;
        loadSamples();
      });
    }
    row.appendChild(th);
  }
}

function componentCells(components) {
  return Object.entries(components).map(([name, value]) => el("span", { class: "chip" }, `${name} ${Number(value).toFixed(2)}`));
}

async function loadSamples() {
  header();
  const params = filterParams();
  params.set("offset", state.offset);
  params.set("limit", PAGE);
  status("loading…");
  let page;
  try {
    page = await api("/api/samples?" + params);
  } catch (error) {
    status("error: " + error.message);
    return;
  }
  state.total = page.total;
  const body = clear(document.querySelector("#samples tbody"));
  for (const r of page.rows) {
    const source = state.info.sources[r.source];
    const tr = el("tr", { "data-id": r.id, class: r.id === state.selected ? "selected" : "" },
      el("td", {}, r.id), el("td", {}, source ? source.label : r.source), el("td", {}, r.env.replace("atropos_envs/", "")),
      el("td", {}, r.task_id + (r.sample_index !== null ? ` · ${r.sample_index}` : "")), el("td", {}, fmt(r.step)),
      el("td", { class: "num" }, num(r.reward)), el("td", {}, componentCells(r.components)),
      el("td", { class: "outcome-" + r.outcome }, r.outcome), el("td", {}, r.kept === null ? "–" : r.kept ? "kept" : "rejected"),
      el("td", { class: "num" }, fmt(r.tokens)), el("td", { class: "preview" }, r.preview));
    tr.addEventListener("click", () => openSample(r.id));
    body.appendChild(tr);
  }
  const last = Math.min(state.offset + PAGE, page.total);
  document.getElementById("page").textContent =
    page.total ? `${state.offset + 1}–${last} of ${page.total}` : "no samples match";
  status(`${page.total} of ${state.info.total} samples`);
}

// ---- one sample as a conversation ---------------------------------------------------------------
const SEGMENT = /<think>([\s\S]*?)(?:<\/think>|$)|<tool_call>([\s\S]*?)(?:<\/tool_call>|$)/g;

function pretty(text) {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch (_) {
    return text.trim();
  }
}

function assistantContent(text) {
  const parts = [];
  let last = 0;
  for (const match of text.matchAll(SEGMENT)) {
    if (match.index > last) parts.push(el("div", { class: "text" }, text.slice(last, match.index)));
    if (match[1] !== undefined) {
      parts.push(el("details", { class: "think" }, el("summary", {}, `<think> ${match[1].length} characters`),
        el("div", { class: "text" }, match[1])));
    } else {
      parts.push(el("div", { class: "tool-call" }, el("div", { class: "label" }, "tool call"),
        el("pre", {}, pretty(match[2]))));
    }
    last = match.index + match[0].length;
  }
  if (last < text.length) parts.push(el("div", { class: "text" }, text.slice(last)));
  return parts;
}

function messageText(content) {
  if (typeof content === "string") return content;
  if (Array.isArray(content)) return content.map((p) => (p && p.text) || "").join(" ");
  return JSON.stringify(content);
}

function conversation(messages) {
  return messages.map((m) => {
    const role = String(m.role || "?");
    const text = messageText(m.content);
    let body;
    if (role === "assistant") body = assistantContent(text);
    else if (role === "tool") {
      const inner = text.replace(/^\s*<tool_response>\s*/, "").replace(/\s*<\/tool_response>\s*$/, "");
      body = [el("div", { class: "label" }, "tool response"), el("pre", {}, pretty(inner))];
    } else if (role === "system") body = [el("details", { class: "system" }, el("summary", {}, `system prompt, ${text.length} characters`), el("div", { class: "text" }, text))];
    else body = [el("div", { class: "text" }, text)];
    if (m.tool_calls) body.push(el("div", { class: "tool-call" }, el("div", { class: "label" }, "tool calls"), el("pre", {}, JSON.stringify(m.tool_calls, null, 2))));
    return el("div", { class: "msg role-" + role.replace(/[^a-z]/g, "") }, el("div", { class: "role" }, role), body);
  });
}

function breakdown(row, meta) {
  const table = el("table", { class: "breakdown" },
    el("tr", {}, el("th", {}, "reward"), el("td", { class: "num" }, num(row.reward))),
    Object.entries(row.components).map(([k, v]) => el("tr", {}, el("th", {}, k), el("td", { class: "num" }, num(v)))));
  const facts = [["outcome", row.outcome], ["kept", row.kept === null ? null : row.kept ? "kept" : "rejected"],
    ["step", row.step], ["policy version", meta.policy_version], ["completion tokens", row.tokens],
    ["prompt tokens", meta.prompt_tokens], ["turns", meta.turns],
    ["hit the token limit", meta.hit_token_limit === undefined ? null : meta.hit_token_limit ? "yes" : "no"],
    ["finish reasons", meta.finish_reasons ? meta.finish_reasons.join(", ") : null], ["model", meta.model],
    ["sampling", meta.sampling ? JSON.stringify(meta.sampling) : null]].filter(([, v]) => v !== null && v !== undefined);
  return el("div", { class: "score" }, table,
    el("div", { class: "reason" }, el("b", {}, "reason "), el("span", { id: "reason" }, meta.reason || "–")),
    el("dl", {}, facts.map(([k, v]) => [el("dt", {}, k), el("dd", {}, String(v))])));
}

async function openSample(id) {
  state.selected = id;
  for (const tr of document.querySelectorAll("#samples tbody tr")) tr.classList.toggle("selected", Number(tr.dataset.id) === id);
  const detail = clear(document.getElementById("detail"));
  let data;
  try {
    data = await api("/api/sample/" + id);
  } catch (error) {
    detail.appendChild(el("p", { class: "error" }, error.message));
    return;
  }
  const record = data.record, meta = record.metadata || {};
  detail.appendChild(el("h2", {}, `${data.source} · task ${data.row.task_id}` +
    (data.row.sample_index !== null ? ` · sample ${data.row.sample_index}` : "")));
  detail.appendChild(breakdown(data.row, meta));
  if (record.chosen !== undefined) {
    const side = (name) => el("div", { class: "pair-side" }, el("h3", {}, name),
      typeof record[name] === "string" ? el("div", { class: "text" }, record[name]) : conversation(record[name]));
    if (Array.isArray(record.prompt)) detail.appendChild(el("div", { class: "conversation" }, conversation(record.prompt)));
    else if (record.prompt) detail.appendChild(el("div", { class: "msg role-user" }, el("div", { class: "text" }, record.prompt)));
    detail.appendChild(el("div", { class: "pair" }, side("chosen"), side("rejected")));
  } else {
    detail.appendChild(el("div", { class: "conversation" }, conversation(record.messages)));
  }
}

// ---- runs: curves per step (inline SVG) and the rollouts of a step --------------------------------
const SVG = "http://www.w3.org/2000/svg";

function svg(tag, attrs, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  for (const c of children) node.appendChild(typeof c === "object" ? c : document.createTextNode(String(c)));
  return node;
}

function chart(title, points, onPick) {
  const W = 300, H = 170, L = 44, R = 10, T = 22, B = 26;
  const box = el("figure", { class: "chart" });
  const plot = svg("svg", { width: W, height: H, viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": title });
  plot.appendChild(svg("text", { x: L, y: 14, class: "title" }, title));
  if (!points.length) {
    plot.appendChild(svg("text", { x: L, y: H / 2, class: "empty" }, "not recorded"));
    box.appendChild(plot);
    return box;
  }
  const xs = points.map((p) => p[0]), ys = points.map((p) => p[1]);
  let [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  if (x0 === x1) x1 = x0 + 1;
  if (y0 === y1) { y0 -= 0.5; y1 += 0.5; }
  const sx = (x) => L + ((x - x0) / (x1 - x0)) * (W - L - R), sy = (y) => H - B - ((y - y0) / (y1 - y0)) * (H - T - B);
  plot.appendChild(svg("line", { x1: L, y1: H - B, x2: W - R, y2: H - B, class: "axis" }));
  plot.appendChild(svg("line", { x1: L, y1: T, x2: L, y2: H - B, class: "axis" }));
  for (const [y, label] of [[y0, fmt(y0, 2)], [y1, fmt(y1, 2)]]) plot.appendChild(svg("text", { x: L - 4, y: sy(y) + 4, class: "tick", "text-anchor": "end" }, label));
  for (const x of [x0, x1]) plot.appendChild(svg("text", { x: sx(x), y: H - 8, class: "tick", "text-anchor": "middle" }, fmt(x)));
  plot.appendChild(svg("polyline", { points: points.map(([x, y]) => `${sx(x)},${sy(y)}`).join(" "), class: "line" }));
  for (const [x, y] of points) {
    const dot = svg("circle", { cx: sx(x), cy: sy(y), r: 3, class: "dot" }, svg("title", {}, `step ${x}: ${fmt(y)}`));
    dot.addEventListener("click", () => onPick(x));
    plot.appendChild(dot);
  }
  box.appendChild(plot);
  return box;
}

function showStep(sourceId, step) {
  const form = document.getElementById("filters");
  form.reset();
  form.elements.source.value = String(sourceId);
  form.elements.step.value = String(step);
  state.offset = 0;
  showTab("samples");
  loadSamples();
}

async function loadRun() {
  const select = document.getElementById("run-select");
  if (!select.value) {
    clear(document.getElementById("charts")).appendChild(el("p", { class: "hint" }, "No training run given (pass a run folder)."));
    return;
  }
  const sourceId = Number(select.value);
  const run = await api("/api/run/" + sourceId);
  const series = (key) => run.metrics.filter((m) => typeof m[key] === "number").map((m) => [m.step, m[key]]);
  const lossKey = run.metrics.some((m) => "kl" in m) ? "kl" : "loss";
  const pick = (step) => showStep(sourceId, step);
  const charts = clear(document.getElementById("charts"));
  charts.append(chart("mean reward", series("mean_reward"), pick), chart("completion tokens", series("mean_completion_tokens"), pick),
    chart(lossKey === "kl" ? "KL to reference" : "policy loss", series(lossKey), pick), chart("overlong rate", series("overlong_rate"), pick));
  const prov = run.provenance[0] || {};
  clear(document.getElementById("run-info")).appendChild(el("p", {}, `${run.label}: ${run.metrics.length} steps` +
    (prov.model ? ` · model ${typeof prov.model === "string" ? prov.model : JSON.stringify(prov.model)}` : "")));
  const steps = clear(document.getElementById("run-steps"));
  steps.appendChild(el("h3", {}, "rollouts by step"));
  const entries = Object.entries(run.rollout_steps);
  if (!entries.length) steps.appendChild(el("p", { class: "hint" }, "no rollouts.jsonl in this run"));
  for (const [step, count] of entries) steps.appendChild(el("button", { class: "step", onclick: () => pick(Number(step)) }, `step ${step} (${count})`));
}

// ---- two sources side by side, paired by task ----------------------------------------------------
async function loadCompare(event) {
  if (event) event.preventDefault();
  const form = document.getElementById("compare-form");
  const params = new URLSearchParams({ a: form.elements.a.value, b: form.elements.b.value, threshold: form.elements.threshold.value || "1" });
  let data;
  try {
    data = await api("/api/compare?" + params);
  } catch (error) {
    status("error: " + error.message);
    return;
  }
  const c = data.counts;
  clear(document.getElementById("compare-summary")).appendChild(el("p", {},
    `${data.tasks.length} tasks in both · solved by both ${c.both} · only A (${data.a}) ${c.only_a} · only B (${data.b}) ${c.only_b} · neither ${c.neither}`));
  const head = clear(document.querySelector("#compare-table thead tr"));
  for (const label of ["task", "A mean reward", "A solved", "B mean reward", "B solved", "B − A"]) head.appendChild(el("th", {}, label));
  const body = clear(document.querySelector("#compare-table tbody"));
  const show = form.elements.show.value;
  for (const t of data.tasks) {
    if (show === "only_a" && !(t.a.solved && !t.b.solved)) continue;
    if (show === "only_b" && !(t.b.solved && !t.a.solved)) continue;
    const diff = t.a.mean_reward !== null && t.b.mean_reward !== null ? t.b.mean_reward - t.a.mean_reward : null;
    const open = (id) => () => { showTab("samples"); openSample(id); };
    body.appendChild(el("tr", { class: t.a.solved === t.b.solved ? "" : t.b.solved ? "better-b" : "better-a" },
      el("td", {}, `${t.env.replace("atropos_envs/", "")} ${t.task_id}`),
      el("td", { class: "num link", onclick: open(t.a.first) }, `${fmt(t.a.mean_reward)} (${t.a.samples})`),
      el("td", {}, t.a.solved ? "✓" : ""),
      el("td", { class: "num link", onclick: open(t.b.first) }, `${fmt(t.b.mean_reward)} (${t.b.samples})`),
      el("td", {}, t.b.solved ? "✓" : ""),
      el("td", { class: "num" }, diff === null ? "–" : (diff > 0 ? "+" : "") + diff.toFixed(3))));
  }
}

// ---- start ----------------------------------------------------------------------------------------
function fill(select, values, keep) {
  for (const [value, label] of values) select.appendChild(el("option", { value }, label));
  if (keep !== undefined) select.value = keep;
}

async function start() {
  state.info = await api("/api/info");
  const form = document.getElementById("filters");
  fill(form.elements.source, state.info.sources.map((s) => [s.id, `${s.label} (${s.count})`]));
  fill(form.elements.env, state.info.envs.map((e) => [e, e.replace("atropos_envs/", "")]));
  fill(form.elements.outcome, state.info.outcomes.map((o) => [o, o]));
  fill(form.elements.component, state.info.components.map((c) => [c, c]));
  fill(document.getElementById("run-select"), state.info.sources.filter((s) => s.kind === "run").map((s) => [s.id, s.label]));
  const cf = document.getElementById("compare-form");
  const all = state.info.sources.map((s) => [s.id, s.label]);
  fill(cf.elements.a, all, "0");
  fill(cf.elements.b, all, all.length > 1 ? "1" : "0");
  form.addEventListener("submit", (e) => { e.preventDefault(); state.offset = 0; loadSamples(); });
  document.getElementById("reset-filters").addEventListener("click", () => { form.reset(); state.offset = 0; state.sort = "id"; state.order = ""; loadSamples(); });
  document.getElementById("prev").addEventListener("click", () => { state.offset = Math.max(0, state.offset - PAGE); loadSamples(); });
  document.getElementById("next").addEventListener("click", () => { if (state.offset + PAGE < state.total) { state.offset += PAGE; loadSamples(); } });
  document.getElementById("run-select").addEventListener("change", loadRun);
  cf.addEventListener("submit", loadCompare);
  for (const tab of document.querySelectorAll(".tab")) tab.addEventListener("click", () => showTab(tab.dataset.tab));
  await loadSamples();
  document.body.dataset.ready = "1";
}

start().catch((error) => status("error: " + error.message));
