// The status page: the station's status from /events (server-sent events) as it changes,
// the report from /api/report. Nothing is loaded from anywhere else.
"use strict";

function cell(row, text, cls) {
  const td = row.insertCell();
  td.textContent = text;
  if (cls) td.className = cls;
  return td;
}

// The label printer's queue, when something needs a look: waiting labels and why, and the
// labels that could not be made at all.
function labelsLine(labels) {
  if (!labels) return "";
  const parts = [];
  if (labels.problem) parts.push(`labels: ${labels.waiting} waiting (${labels.problem})`);
  if (labels.failed) parts.push(`${labels.failed} labels failed (${labels.last_failure})`);
  return parts.length ? `; ${parts.join("; ")}` : "";
}

function showStatus(status) {
  document.getElementById("station").textContent = status.station;
  const flashing = status.sockets.filter((s) => s.state === "flashing").length;
  document.getElementById("summary").textContent =
    `profile ${status.profile}, trigger ${status.trigger}, ${flashing} flashing` +
    (status.journal !== "ok" ? `, journal: ${status.journal}` : "") + labelsLine(status.labels);
  const body = document.querySelector("#sockets tbody");
  body.replaceChildren();
  for (const s of status.sockets) {
    const row = body.insertRow();
    row.className = s.state;
    row.dataset.socket = s.name;
    cell(row, s.name);
    cell(row, s.state, "state");
    cell(row, s.stage || "");
    const bar = cell(row, "", "progress");
    bar.dataset.percent = s.progress.toFixed(1);
    bar.innerHTML = '<div class="bar"><div></div></div>';
    bar.querySelector(".bar div").style.width = `${s.progress}%`;
    bar.title = `${s.progress.toFixed(1)} %`;
    cell(row, s.mac || "");
    const baud = cell(row, s.rates ? `${s.rates.sync}/${s.rates.write}` : "", "baud");
    if (s.rates) baud.title = `sync/write baud, adapter ${s.rates.adapter || "unknown"}`;
    const r = s.last_result;
    const last = r ? (r === "ok" ? `ok in ${s.duration_s.toFixed(1)} s` : `${r}: ${s.reason}`) : "";
    cell(row, last, "result");
  }
  const t = status.today;
  document.getElementById("today").textContent =
    `${t.ok || 0} ok, ${t.failed || 0} failed today`;
}

let reports = 0;

async function showReport() {
  const response = await fetch("/api/report?since=today");
  if (!response.ok) return;
  const report = await response.json();
  reports += 1;  // a new picture each time a result comes in, not the browser's cached one
  for (const name of ["per-hour", "reasons"]) {
    document.getElementById(`plot-${name}`).src = `/plots/${name}.png?since=today&n=${reports}`;
  }
  document.getElementById("report-line").textContent =
    `${report.attempts} attempts: ${report.ok} ok, ${report.failed} failed; ` +
    `${report.modules} modules, ${report.good} good` +
    (report.per_hour_rate ? `; ${report.per_hour_rate} modules per hour` : "");
  const reasons = document.querySelector("#reasons tbody");
  document.getElementById("reasons").hidden = !Object.keys(report.by_reason).length;
  reasons.replaceChildren();
  for (const [reason, n] of Object.entries(report.by_reason)) {
    const row = reasons.insertRow();
    cell(row, reason);
    cell(row, String(n));
  }
  const units = document.querySelector("#units tbody");
  units.replaceChildren();
  for (const u of report.units) {
    const row = units.insertRow();
    cell(row, u.serial === null ? "-" : String(u.serial));
    cell(row, u.mac);
    cell(row, u.client_id || "-");
    cell(row, u.result === "ok" ? "ok" : `${u.result}: ${u.reason}`);
  }
}

let finished = null;
let streamed = false;  // the stream has spoken: its status is newer than any fetched one

function showStatusAndReport(status) {
  showStatus(status);
  // A new result: the report has changed too.
  const done = status.sockets.map((s) => `${s.name}:${s.last_result}:${s.since}`).join();
  if (done !== finished) {
    finished = done;
    showReport();
  }
}

// Whether the page has the station: said plainly when it is lost, and when it is back.
let lostAt = null;

function linkShown(text, lost) {
  const link = document.getElementById("link");
  link.textContent = text;
  link.className = lost ? "lost" : "back";
  link.hidden = false;
}

const RECONNECT_MS = 2000;  // as the stream's own retry says

function follow() {
  const events = new EventSource("/events");
  events.addEventListener("status", (event) => {
    streamed = true;
    if (lostAt !== null) {
      const away = Math.round((Date.now() - lostAt) / 1000);
      linkShown(`the station is back (away ${away} s)`, false);
      lostAt = null;
    }
    showStatusAndReport(JSON.parse(event.data));
  });
  events.onerror = () => {
    if (lostAt === null) lostAt = Date.now();
    const since = new Date(lostAt).toLocaleTimeString();
    linkShown(`lost the station at ${since}: what is shown may be old; reconnecting`, true);
    // A browser gives up on a stream whose reconnection failed (the station still down):
    // follow it anew.
    if (events.readyState === EventSource.CLOSED) setTimeout(follow, RECONNECT_MS);
  };
}

follow();
// The status at once, whatever holds the stream back (a buffering proxy, say).
fetch("/api/status")
  .then((response) => (response.ok ? response.json() : null))
  .then((status) => {
    if (status && !streamed) showStatusAndReport(status);
  })
  .catch(() => {});
