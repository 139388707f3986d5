// The admin dashboard: polls /status and /metrics, derives rates from two
// polls and percentiles from histogram buckets, and fills plain tables.
"use strict";

const every = 2000;
let previous = null; // {at, requests: {plugin: count}}
const versions = {};  // plugin -> version last seen
const history = [];   // {time, plugin, version, event}, newest first

// parseMetrics reads the Prometheus text format into samples.
function parseMetrics(text) {
  const out = [];
  for (const line of text.split("\n")) {
    if (line === "" || line[0] === "#") continue;
    const m = /^([a-zA-Z_:][\w:]*)(\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels = {};
    const re = /([a-zA-Z_]\w*)="((?:[^"\\]|\\.)*)"/g;
    let l;
    while ((l = re.exec(m[3] || "")) !== null) labels[l[1]] = l[2].replace(/\\(.)/g, (_, c) => (c === "n" ? "\n" : c));
    out.push({ name: m[1], labels, value: parseFloat(m[4]) });
  }
  return out;
}

// sumBy adds up a metric's samples (across workers) by a key of labels.
function sumBy(samples, name, key) {
  const out = {};
  for (const s of samples) {
    if (s.name !== name) continue;
    const k = key(s.labels);
    out[k] = (out[k] || 0) + s.value;
  }
  return out;
}

// quantile estimates a quantile from cumulative buckets {le: count}, by
// linear interpolation inside the bucket it falls in, as PromQL does.
function quantile(q, buckets) {
  const les = Object.keys(buckets).map(Number).sort((a, b) => a - b);
  if (les.length === 0) return null;
  const total = buckets[les[les.length - 1]] || 0;
  if (total === 0) return null;
  const rank = q * total;
  let lower = 0, below = 0;
  for (const le of les) {
    const c = buckets[le];
    if (c >= rank) {
      if (!isFinite(le)) return lower; // above the largest bound
      return lower + (le - lower) * ((rank - below) / Math.max(c - below, 1));
    }
    lower = le; below = c;
  }
  return lower;
}

function ms(seconds) {
  if (seconds === null || seconds === undefined || isNaN(seconds)) return "–";
  const v = seconds * 1000;
  return (v < 10 ? v.toFixed(2) : v < 100 ? v.toFixed(1) : v.toFixed(0)) + " ms";
}

function num(v) { return v === undefined ? "0" : String(Math.round(v * 100) / 100); }

function row(tbody, cells) {
  const tr = document.createElement("tr");
  for (const c of cells) {
    const td = document.createElement("td");
    const cell = typeof c === "object" && c !== null ? c : { text: c };
    td.textContent = cell.text;
    if (cell.cls) td.className = cell.cls;
    tr.appendChild(td);
  }
  tbody.appendChild(tr);
}

function fill(id, rows) {
  const tbody = document.querySelector("#" + id + " tbody");
  tbody.textContent = "";
  for (const r of rows) row(tbody, r);
  if (rows.length === 0) row(tbody, ["none"]);
}

function n(v, bad) { return { text: num(v), cls: bad && v > 0 ? "n bad" : "n" }; }

function render(status, samples, at) {
  const requests = sumBy(samples, "wasmhost_requests_total", (l) => l.plugin);
  const errors5xx = sumBy(samples, "wasmhost_requests_total", (l) => (Number(l.status) >= 500 ? l.plugin : ""));
  const perKind = (name) => sumBy(samples, name, (l) => l.plugin);
  const traps = perKind("wasmhost_guest_traps_total");
  const timeouts = perKind("wasmhost_guest_timeouts_total");
  const cancels = perKind("wasmhost_guest_cancellations_total");
  const buckets = {};
  for (const s of samples) {
    if (s.name !== "wasmhost_request_duration_seconds_bucket") continue;
    const b = (buckets[s.labels.plugin] = buckets[s.labels.plugin] || {});
    const le = s.labels.le === "+Inf" ? Infinity : parseFloat(s.labels.le);
    b[le] = (b[le] || 0) + s.value;
  }
  const rate = (p) => {
    if (!previous) return null;
    const dt = (at - previous.at) / 1000;
    return dt > 0 ? Math.max(0, ((requests[p] || 0) - (previous.requests[p] || 0)) / dt) : null;
  };
  const plugins = status.plugins || [];
  fill("plugins", plugins.map((p) => {
    const b = buckets[p.name] || {};
    const r = rate(p.name);
    const inst = p.instances || {};
    return [p.name, p.version || "–", p.engine || "–", { text: r === null ? "…" : r.toFixed(1), cls: "n" },
      { text: ms(quantile(0.5, b)), cls: "n" }, { text: ms(quantile(0.95, b)), cls: "n" }, { text: ms(quantile(0.99, b)), cls: "n" },
      n(errors5xx[p.name], true), n(traps[p.name], true), n(timeouts[p.name], true), n(cancels[p.name], false),
      { text: (inst.busy || 0) + " / " + (inst.idle || 0) + " / " + (inst.max || 0), cls: "n" },
      n(p.swaps, false), { text: p.last_error || "", cls: "err" }];
  }));

  for (const p of plugins) {
    if (versions[p.name] !== p.version) {
      history.unshift({ time: p.loaded_at || new Date(at).toISOString(), plugin: p.name, version: p.version,
        event: versions[p.name] === undefined ? "serving" : "swapped from " + versions[p.name] });
      versions[p.name] = p.version;
    }
    const last = history.find((h) => h.plugin === p.name && h.event.startsWith("refused"));
    if (p.last_error && (!last || last.error !== p.last_error)) {
      history.unshift({ time: new Date(at).toISOString(), plugin: p.name, version: p.version, event: "refused: " + p.last_error, error: p.last_error });
    }
  }
  history.length = Math.min(history.length, 50);
  fill("history", history.map((h) => [h.time.replace("T", " ").replace(/\.\d+Z$/, "Z"), h.plugin, h.version || "–", { text: h.event, cls: h.error ? "err" : "" }]));

  const chains = [];
  for (const [plugin, links] of Object.entries(status.chains || {})) {
    for (const l of links) {
      const per = (v) => (l.requests > 0 ? ms(v / 1000 / l.requests) : "–");
      chains.push([plugin, l.builtin ? l.name + " (built-in)" : l.name, n(l.requests), n(l.failures, true), { text: per(l.own_ms), cls: "n" }, { text: per(l.time_ms), cls: "n" }]);
    }
  }
  fill("chains", chains);

  const kvOps = {};
  for (const s of samples) {
    if (s.name !== "wasmhost_kv_operations_total") continue;
    const k = s.labels.store + "\u0000" + s.labels.op;
    const o = (kvOps[k] = kvOps[k] || { store: s.labels.store, op: s.labels.op });
    o[s.labels.outcome] = (o[s.labels.outcome] || 0) + s.value;
  }
  const kvSum = sumBy(samples, "wasmhost_kv_operation_duration_seconds_sum", (l) => l.store + "\u0000" + l.op);
  const kvCount = sumBy(samples, "wasmhost_kv_operation_duration_seconds_count", (l) => l.store + "\u0000" + l.op);
  fill("stores", Object.entries(kvOps).sort().map(([k, o]) => [o.store, o.op, n(o.ok), n(o.not_found), n(o.error, true),
    { text: kvCount[k] ? ms(kvSum[k] / kvCount[k]) : "–", cls: "n" }]));

  const out = {};
  for (const s of samples) {
    if (s.name !== "wasmhost_outbound_requests_total") continue;
    const k = s.labels.plugin + "\u0000" + s.labels.allowed_host;
    const o = (out[k] = out[k] || { plugin: s.labels.plugin, host: s.labels.allowed_host, statuses: {} });
    o.statuses[s.labels.status] = (o.statuses[s.labels.status] || 0) + s.value;
  }
  const outSum = sumBy(samples, "wasmhost_outbound_request_duration_seconds_sum", (l) => l.plugin + "\u0000" + l.allowed_host);
  const outCount = sumBy(samples, "wasmhost_outbound_request_duration_seconds_count", (l) => l.plugin + "\u0000" + l.allowed_host);
  fill("outbound", Object.entries(out).sort().map(([k, o]) => [o.plugin, o.host,
    Object.entries(o.statuses).map(([st, c]) => (st === "0" ? "no response" : st) + ": " + c).join(", "),
    { text: outCount[k] ? ms(outSum[k] / outCount[k]) : "–", cls: "n" }]));

  const workers = status.workers || [];
  fill("workers", workers.map((w) => [String(w.id), String(w.pid), (w.started || "").replace(/\.\d+Z$/, "Z"), n(w.requests), n(w.in_flight), n(w.restarts, true)]));
  const total = Object.values(requests).reduce((a, b) => a + b, 0);
  document.getElementById("summary").textContent = plugins.length + " plugins, " + workers.length + " workers, " + total + " requests served; updated " + new Date(at).toLocaleTimeString();
  previous = { at, requests };
}

async function poll() {
  const err = document.getElementById("error");
  try {
    const [st, mt] = await Promise.all([fetch("/status"), fetch("/metrics")]);
    if (!st.ok || !mt.ok) throw new Error("/status " + st.status + ", /metrics " + mt.status);
    render(await st.json(), parseMetrics(await mt.text()), Date.now());
    err.hidden = true;
  } catch (e) {
    err.textContent = "Cannot refresh: " + e.message;
    err.hidden = false;
  }
  setTimeout(poll, every);
}

poll();
