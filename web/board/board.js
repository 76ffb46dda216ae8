// ./board's page: polls the JSON API, draws the curves, the checkpoint table, an evaluation, and
// classifies what is drawn on the pad. No libraries: everything is drawn on canvases.
"use strict";
const $ = (id) => document.getElementById(id);
let chosen = "";          // checkpoint chosen in the table ("" = latest)
let evalShown = "";

async function getJson(url, options) {
  const r = await fetch(url, options);
  const j = await r.json();
  if (!r.ok) throw new Error(j.error || r.statusText);
  return j;
}

// Loss (left axis) and accuracies (right axis, 0.8..1 or 0..1) against step; resumes dashed red.
function drawCurves(records) {
  const c = $("curves"), g = c.getContext("2d"), W = c.width, H = c.height, L = 50, R = 50, T = 10, B = 30;
  g.clearRect(0, 0, W, H);
  const loss = records.filter((r) => (r.event === "epoch" || r.event === "save") && r.loss !== undefined)
    .map((r) => [r.step, r.loss]).sort((a, b) => a[0] - b[0]);
  const acc = (k) => records.filter((r) => r.event === "epoch" && r[k] !== undefined).map((r) => [r.step, r[k]]);
  const val = acc("validation_accuracy"), test = acc("test_accuracy");
  const resumes = records.filter((r) => r.event === "resume").map((r) => r.step);
  const maxStep = Math.max(1, ...records.map((r) => r.step || 0));
  const maxLoss = Math.max(0.1, ...loss.map((p) => p[1]));
  const accs = val.concat(test).map((p) => p[1]);
  const accLo = accs.length && Math.min(...accs) > 0.8 ? 0.8 : 0;
  const x = (s) => L + (W - L - R) * s / maxStep;
  const yl = (v) => T + (H - T - B) * (1 - v / maxLoss);
  const ya = (v) => T + (H - T - B) * (1 - (v - accLo) / (1 - accLo));
  g.strokeStyle = "#999"; g.fillStyle = "#333"; g.font = "11px sans-serif"; g.lineWidth = 1;
  g.strokeRect(L, T, W - L - R, H - T - B);
  for (let i = 0; i <= 4; i++) {
    g.fillText((maxLoss * i / 4).toFixed(2), 4, yl(maxLoss * i / 4) + 4);
    g.fillText((accLo + (1 - accLo) * i / 4).toFixed(2), W - R + 4, ya(accLo + (1 - accLo) * i / 4) + 4);
    g.fillText(String(Math.round(maxStep * i / 4)), x(maxStep * i / 4) - 10, H - 12);
  }
  g.fillText("step", W / 2, H - 1);
  const line = (pts, y, color) => {
    g.strokeStyle = color; g.lineWidth = 2; g.beginPath();
    pts.forEach((p, i) => (i ? g.lineTo(x(p[0]), y(p[1])) : g.moveTo(x(p[0]), y(p[1]))));
    g.stroke();
    g.fillStyle = color; pts.forEach((p) => g.fillRect(x(p[0]) - 2, y(p[1]) - 2, 4, 4));
  };
  line(loss, yl, "#1e88e5"); line(val, ya, "#43a047"); line(test, ya, "#fb8c00");
  g.setLineDash([5, 4]); g.strokeStyle = "#e53935"; g.lineWidth = 1.5;
  resumes.forEach((s) => { g.beginPath(); g.moveTo(x(s), T); g.lineTo(x(s), H - B); g.stroke(); });
  g.setLineDash([]);
  c.dataset.points = String(loss.length + val.length + test.length);
}

function showCheckpoints(list) {
  const body = $("checkpoints").querySelector("tbody");
  body.innerHTML = "";
  for (const ck of list) {
    const tr = document.createElement("tr");
    const when = ck.saved_at ? new Date(ck.saved_at * 1000).toLocaleString() : "–";
    const status = ck.valid ? "valid" + (ck.latest ? " (latest)" : "") : "INVALID: " + ck.error;
    for (const v of [ck.name, ck.step, ck.valid ? ck.epoch : "–", when, ck.bytes, status]) {
      const td = document.createElement("td");
      td.textContent = v;
      tr.appendChild(td);
    }
    if (!ck.valid) tr.lastChild.className = "bad";
    if (ck.name === chosen || (!chosen && ck.latest)) tr.className = "selected";
    tr.onclick = () => { chosen = ck.name; showEval(ck.name); refresh(); predictNow(); };
    body.appendChild(tr);
  }
}

function bars(el, values, names, top) {
  el.innerHTML = "";
  values.forEach((v, i) => {
    const d = document.createElement("div");
    d.className = "bar" + (i === top ? " top" : "");
    d.innerHTML = `<span style="width:6em">${names ? names[i] : i}</span><span class="fill" style="width:${Math.round(v * 150)}px"></span><span>${v.toFixed(3)}</span>`;
    el.appendChild(d);
  });
}

function drawConfusion(m) {
  const c = $("confusion"), g = c.getContext("2d"), n = m.length, s = (c.width - 30) / n;
  g.clearRect(0, 0, c.width, c.height); g.font = "10px sans-serif";
  for (let t = 0; t < n; t++) {
    const rowSum = m[t].reduce((a, b) => a + b, 0) || 1;
    g.fillStyle = "#333"; g.fillText(String(t), 4, 30 + t * s + s / 2 + 3); g.fillText(String(t), 30 + t * s + s / 2 - 3, 12);
    for (let p = 0; p < n; p++) {
      const f = m[t][p] / rowSum, k = Math.round(255 * (1 - Math.sqrt(f)));
      g.fillStyle = t === p ? `rgb(${k},${k},255)` : `rgb(255,${k},${k})`;
      g.fillRect(30 + p * s, 20 + t * s, s - 1, s - 1);
      if (m[t][p]) { g.fillStyle = f > 0.5 ? "#fff" : "#000"; g.fillText(String(m[t][p]), 30 + p * s + 2, 20 + t * s + s / 2 + 3); }
    }
  }
}

function imageCanvas(pixels, side, zoom) {
  const c = document.createElement("canvas");
  c.width = c.height = side * zoom;
  const g = c.getContext("2d"), img = g.createImageData(side, side);
  pixels.forEach((v, i) => { img.data.set([v, v, v, 255], i * 4); });
  const small = document.createElement("canvas");
  small.width = small.height = side;
  small.getContext("2d").putImageData(img, 0, 0);
  g.imageSmoothingEnabled = false;
  g.drawImage(small, 0, 0, side * zoom, side * zoom);
  return c;
}

async function showEval(name) {
  evalShown = name;
  $("eval-name").textContent = name || "(latest)";
  $("eval-summary").textContent = "evaluating…";
  try {
    const e = await getJson("/api/eval?checkpoint=" + encodeURIComponent(name || "latest"));
    if (evalShown !== name) return;
    $("eval-summary").textContent = `${e.checkpoint}: global_step ${e.global_step}, test accuracy ${e.accuracy.toFixed(4)}, ` +
      `loss ${e.loss.toFixed(4)} on ${e.images} images; ${e.errors_total} misclassified`;
    bars($("per-class"), e.per_class_accuracy, e.class_names, -1);
    drawConfusion(e.confusion_matrix);
    const box = $("errors");
    box.innerHTML = "";
    for (const x of e.errors) {
      const f = document.createElement("figure");
      f.appendChild(imageCanvas(x.pixels, e.side, 2));
      const cap = document.createElement("figcaption");
      cap.textContent = `${e.class_names[x.label]} > ${e.class_names[x.predicted]}`;
      f.appendChild(cap);
      box.appendChild(f);
    }
  } catch (err) {
    $("eval-summary").textContent = "cannot evaluate: " + err.message;
  }
}

// The pad: white strokes on black (as MNIST), sent as 28x28 after each move (at most one request in flight).
const pad = $("pad"), pg = pad.getContext("2d");
let drawing = false, last = null, busy = false, again = false, inked = false;
function clearPad() { pg.fillStyle = "#000"; pg.fillRect(0, 0, pad.width, pad.height); inked = false; $("prediction").textContent = "–"; $("probs").innerHTML = ""; }
function point(ev) { const r = pad.getBoundingClientRect(); return [ev.clientX - r.left, ev.clientY - r.top]; }
pad.addEventListener("pointerdown", (ev) => { drawing = true; last = point(ev); pad.setPointerCapture(ev.pointerId); stroke(last); });
pad.addEventListener("pointermove", (ev) => { if (drawing) stroke(point(ev)); });
pad.addEventListener("pointerup", () => { drawing = false; predictNow(); });
function stroke(p) {
  pg.strokeStyle = "#fff"; pg.lineWidth = 18; pg.lineCap = "round"; pg.lineJoin = "round";
  pg.beginPath(); pg.moveTo(last[0], last[1]); pg.lineTo(p[0], p[1]); pg.stroke();
  last = p; inked = true; predictNow();
}
async function predictNow() {
  if (!inked) return;
  if (busy) { again = true; return; }
  busy = true;
  const small = document.createElement("canvas");
  small.width = small.height = 28;
  const sg = small.getContext("2d");
  sg.drawImage(pad, 0, 0, 28, 28);
  const d = sg.getImageData(0, 0, 28, 28).data, pixels = [];
  for (let i = 0; i < 784; i++) pixels.push(d[i * 4]);
  try {
    const p = await getJson("/api/predict", { method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ pixels, checkpoint: chosen || "latest" }) });
    $("prediction").textContent = p.class_name;
    bars($("probs"), p.probabilities, null, p.class);
  } catch (err) {
    $("prediction").textContent = "?";
    $("probs").textContent = err.message;
  }
  busy = false;
  if (again) { again = false; predictNow(); }
}
$("clear").onclick = clearPad;

async function refresh() {
  try {
    const [m, cks] = await Promise.all([getJson("/api/metrics"), getJson("/api/checkpoints")]);
    drawCurves(m);
    showCheckpoints(cks);
    $("status").textContent = `${cks.length} checkpoint(s), ${m.length} metrics records, updated ${new Date().toLocaleTimeString()}`;
    if (evalShown === "" && cks.length && !$("eval-summary").dataset.started) { $("eval-summary").dataset.started = "1"; showEval(""); }
  } catch (err) {
    $("status").textContent = "cannot reach the API: " + err.message;
  }
}
clearPad();
refresh();
setInterval(refresh, 3000);
