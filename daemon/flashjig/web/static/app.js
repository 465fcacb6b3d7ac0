// The bench page: the station's status from /events (server-sent events) as it changes, a
// tile per socket; the report from /api/report; the station's commands, when the config
// allows them, through /api/commands/NAME. Nothing is loaded from anywhere else.
"use strict";

const $ = (id) => document.getElementById(id);

function cell(row, text) {
  row.insertCell().textContent = text;
}

// -- the tray ----------------------------------------------------------------------------

let commandsOn = false;

// A tile for a socket, made once and updated in place: a button under a finger stays
// where it is while the status changes four times a second.
function tileFor(name) {
  const found = document.querySelector(`#tray .tile[data-socket="${CSS.escape(name)}"]`);
  if (found) return found;
  const tile = document.createElement("article");
  tile.className = "tile";
  tile.dataset.socket = name;
  tile.setAttribute("aria-label", name);
  tile.innerHTML =
    '<div class="head"><h2 class="name"></h2><strong class="state"></strong></div>' +
    '<div class="body"><p class="stage"></p>' +
    '<div class="bar" role="progressbar" aria-valuemin="0" aria-valuemax="100"><div></div></div>' +
    '<p class="unit"></p><p class="result"></p><p class="advice"></p>' +
    '<button type="button" class="flash" hidden>Flash</button>' +
    '<button type="button" class="cancel" hidden>Cancel</button></div>';
  tile.querySelector(".name").textContent = name;
  tile.querySelector(".bar").setAttribute("aria-label", `${name} progress`);
  const flash = tile.querySelector(".flash");
  flash.addEventListener("click", () => command("flash", { socket: name }, flash));
  const cancel = tile.querySelector(".cancel");
  cancel.setAttribute("aria-label", `Cancel ${name}`);
  cancel.addEventListener("click", () => command("cancel", { socket: name }, cancel));
  return tile;
}

// The tiles in the status's order, and only those (a restarted station's config may have
// other sockets).
function showTray(sockets) {
  const tray = $("tray");
  const tiles = sockets.map((s) => tileFor(s.name));
  if (tiles.some((tile, i) => tray.children[i] !== tile) || tray.children.length !== tiles.length) {
    tray.replaceChildren(...tiles);
  }
  for (const s of sockets) showTile(s);
}

function resultWords(s) {
  if (!s.last_result) return "";
  if (s.last_result === "ok") return s.duration_s === null ? "ok" : `ok in ${s.duration_s.toFixed(1)} s`;
  return `${s.last_result}: ${s.reason || s.detail}`;
}

// Changed only where it differs: four statuses a second lay out again only what changed
// (the browser shares the bench's cores with the station: bench web_flash_ratio).
function put(element, text) {
  if (element.textContent !== text) element.textContent = text;
}

function mark(element, name, value) {
  if (element.getAttribute(name) !== value) element.setAttribute(name, value);
}

// The tile in the colours of its socket's light (the status's look), its state in words.
function showTile(s) {
  const tile = tileFor(s.name);
  const said = resultWords(s);
  const result = tile.querySelector(".result");
  if (tile.dataset.state && said && said !== result.textContent) announce(`${s.name} ${said}`);
  mark(tile, "class", `tile ${s.look}`);
  mark(tile, "data-state", s.state);
  put(tile.querySelector(".state"), s.state);
  const stage = s.state === "flashing" ? `${s.stage || "starting"} ${Math.floor(s.progress)} %` : "";
  put(tile.querySelector(".stage"), stage);
  const bar = tile.querySelector(".bar");
  bar.hidden = s.state !== "flashing";
  mark(bar, "data-percent", s.progress.toFixed(1));
  mark(bar, "aria-valuenow", s.progress.toFixed(0));
  mark(bar, "aria-valuetext", stage);
  bar.firstElementChild.style.transform = `scaleX(${s.progress / 100})`;  // no layout
  const unit = [s.mac, s.serial !== null ? `serial ${s.serial}` : "", s.client_id || ""];
  put(tile.querySelector(".unit"), unit.filter(Boolean).join("  "));
  put(result, said);
  put(tile.querySelector(".advice"), s.advice);
  const rates = s.rates ? `sync/write baud ${s.rates.sync}/${s.rates.write}, adapter ${s.rates.adapter || "unknown"}` : "";
  mark(tile, "title", rates);
  // What the station flashes when asked (socket.request_flash): a seated module, new or failed.
  const flash = tile.querySelector(".flash");
  flash.hidden = !commandsOn || !["inserted", "failed"].includes(s.state);
  put(flash, s.state === "failed" ? "Flash again" : "Flash");
  mark(flash, "aria-label", `${flash.textContent} ${s.name}`);
  tile.querySelector(".cancel").hidden = !commandsOn || s.state !== "flashing";
}

// -- the station -------------------------------------------------------------------------

// The label printer's queue, when something needs a look: waiting labels and why, and the
// labels that could not be made at all.
function showLabels(labels) {
  const parts = [];
  if (labels.waiting) parts.push(`${labels.waiting} labels waiting for the printer`);
  if (labels.problem) parts.push(`the printer: ${labels.problem}`);
  if (labels.failed) parts.push(`${labels.failed} labels could not be made (${labels.last_failure})`);
  const line = $("labels-line");
  line.textContent = parts.join("; ");
  line.className = labels.problem || labels.failed ? "trouble" : "";
  line.hidden = !parts.length;
}

let lastStatus = null;

function showStatus(status) {
  lastStatus = status;
  $("station").textContent = status.station;
  $("summary").textContent =
    `profile ${status.profile}, trigger ${status.trigger}, ${status.sockets.filter((s) => s.state === "flashing").length} flashing` +
    (status.journal !== "ok" ? `, journal: ${status.journal}` : "");
  $("paused").textContent = status.paused ? `drained: ${status.paused}; no new module is taken` : "";
  $("drain").hidden = Boolean(status.paused);
  $("resume").hidden = !status.paused;
  showProfiles(status);
  showTray(status.sockets);
  showLabels(status.labels);
  showBatch();
  showPictures();
}

function showProfiles(status) {
  const select = $("profile");
  if ([...select.options].map((o) => o.value).join() !== status.profiles.join()) {
    select.replaceChildren(...status.profiles.map((name) => new Option(name, name)));
  }
  if (document.activeElement !== select) select.value = status.profile;
}

// -- the batch ---------------------------------------------------------------------------

let perHour = null;  // today's modules per hour, from the report

// The batch size: typed on this page (kept in this browser), else the station's.
function batchSize() {
  const typed = $("batch-size").valueAsNumber;
  if (Number.isInteger(typed) && typed > 0) return typed;
  return lastStatus && lastStatus.batch ? lastStatus.batch.size : null;
}

function showBatch() {
  if (!lastStatus) return;
  const t = lastStatus.today;
  $("today").textContent =
    `${t.ok} ok, ${t.failed} failed today` + (perHour ? `; ${perHour} modules per hour` : "");
  const size = batchSize();
  if (!$("batch-size").value && size) $("batch-size").placeholder = String(size);
  let words = "";
  if (size) {
    const left = Math.max(0, size - t.ok);
    words = `${left} left`;
    if (left === 0) words = "done";
    else if (perHour) {
      const done = new Date(Date.now() + (left / perHour) * 3600e3);
      words += `, done at about ${done.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })}`;
    }
  }
  $("batch-left").textContent = words;
}

$("batch-size").value = localStorage.getItem("flashjig.batch") || "";
$("batch-size").addEventListener("input", () => {
  localStorage.setItem("flashjig.batch", $("batch-size").value);
  showBatch();
});

// -- the morning -------------------------------------------------------------------------

// The pictures are drawn by the station (matplotlib, some 0.1 s of its CPU each): redrawn
// for new results at once while no socket flashes, else at most once a minute, so a page
// left open costs a batch in progress next to nothing (bench: web_flash_ratio).
const PICTURES_EVERY_MS = 60_000;
let pictures = 0;
let picturesAt = -Infinity;
let picturesDue = false;

function showPictures() {
  const flashing = lastStatus && lastStatus.sockets.some((s) => s.state === "flashing");
  const waiting = picturesDue && flashing && Date.now() - picturesAt < PICTURES_EVERY_MS;
  const age = $("pictures-age");
  age.hidden = !waiting;  // said, while they lag behind the counts
  if (waiting) {
    const at = new Date(picturesAt).toLocaleTimeString();
    age.textContent = `the pictures are as of ${at}: redrawn once a minute while modules flash`;
  }
  if (!picturesDue || waiting) return;
  picturesDue = false;
  picturesAt = Date.now();
  pictures += 1;  // a new picture, not the browser's cached one
  const scheme = darkScheme.matches ? "dark" : "light";
  for (const name of ["per-hour", "reasons"]) {
    $(`plot-${name}`).src = `/plots/${name}.png?since=today&scheme=${scheme}&n=${pictures}`;
  }
}

// The pictures in the page's scheme, and again when the device changes it (a dark room).
const darkScheme = matchMedia("(prefers-color-scheme: dark)");
darkScheme.addEventListener("change", () => {
  picturesDue = true;
  picturesAt = -Infinity;
  showPictures();
});

let reportsAsked = 0;

// Today's report, when the journal's counts change. A report that cannot be fetched is
// said, and asked for again with the next status; an older one arriving late is dropped.
async function showReport() {
  const asked = ++reportsAsked;
  let report;
  try {
    const response = await fetch("/api/report?since=today");
    if (!response.ok) throw new Error(`${response.status} ${response.statusText}`);
    report = await response.json();
  } catch (error) {
    finished = null;  // the next status asks again
    $("report-line").textContent = `the report could not be fetched (${error.message})`;
    return;
  }
  if (asked !== reportsAsked) return;
  picturesDue = true;
  showPictures();
  perHour = report.per_hour_rate;
  showBatch();
  $("report-line").textContent =
    `${report.attempts} attempts: ${report.ok} ok, ${report.failed} failed; ` +
    `${report.modules} modules, ${report.good} good`;
  const reasons = document.querySelector("#reasons tbody");
  $("reasons").hidden = !Object.keys(report.by_reason).length;
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
  find();
}

// Today's units narrowed to the rows holding what was typed (any column).
function find() {
  const wanted = $("find").value.trim().toLowerCase();
  const rows = [...document.querySelectorAll("#units tbody tr")];
  let shown = 0;
  for (const row of rows) {
    row.hidden = wanted !== "" && !row.textContent.toLowerCase().includes(wanted);
    if (!row.hidden) shown += 1;
  }
  $("found").textContent = wanted ? `${shown} of ${rows.length}` : "";
}

$("find").addEventListener("input", find);

// -- acting ------------------------------------------------------------------------------

// What an answer says, in the station's words.
function answerWords(name, body, answer) {
  if (!answer.ok) return answer.error;
  if (name === "flash") {
    if (answer.started.length) return `flashing ${answer.started.join(", ")}`;
    return answer.why ? `not flashed: ${answer.why}` : "nothing to flash";
  }
  if (name === "cancel") return answer.cancelled.length ? `cancelled ${answer.cancelled.join(", ")}` : "nothing was flashing";
  if (name === "drain") return answer.busy.length ? `drained; still flashing ${answer.busy.join(", ")}` : "drained";
  if (name === "resume") return "taking modules again";
  return `profile ${body.name} active`;
}

// A command to the station, its button held down until the answer; the answer in words.
async function command(name, body, button) {
  const answer = $("answer");
  answer.className = "";
  answer.textContent = `${name}\u2026`;
  if (button) button.disabled = true;
  let data;
  try {
    const response = await fetch(`/api/commands/${name}`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body || {}),
    });
    const json = (response.headers.get("Content-Type") || "").startsWith("application/json");
    data = json ? await response.json() : { ok: false, error: `${response.status} ${response.statusText}` };
  } catch (error) {
    data = { ok: false, error: `the station did not answer (${error.message})` };
  } finally {
    if (button) button.disabled = false;
  }
  answer.className = data.ok ? "" : "refused";
  answer.textContent = answerWords(name, body, data);
  if (name === "profile" && !data.ok && lastStatus) $("profile").value = lastStatus.profile;
}

for (const [id, name, body] of [
  ["flash-all", "flash"],
  ["cancel", "cancel"],
  ["drain", "drain", { why: "drained from the page" }],
  ["resume", "resume"],
]) {
  $(id).addEventListener("click", () => command(name, body, $(id)));
}
$("profile").addEventListener("change", () => command("profile", { name: $("profile").value }));

// Whether this station takes commands from the page (web.commands): asked at the start and
// again each time the station is back (restarted, it may have another config).
function askCommands() {
  fetch("/api/commands")
    .then((response) => (response.ok ? response.json() : { commands: [] }))
    .then((offered) => {
      commandsOn = offered.commands.length > 0;
      $("controls").hidden = !commandsOn;
      if (lastStatus) showStatus(lastStatus);
    })
    .catch(() => {});
}

askCommands();

// Said to a screen reader, politely: each new result.
function announce(words) {
  $("announce").textContent = words;
}

// -- following the station ---------------------------------------------------------------

let finished = null;
let streamed = false;  // the stream has spoken: its status is newer than any fetched one

function showStatusAndReport(status) {
  showStatus(status);
  // A new result in the journal: the report has changed too.
  const done = JSON.stringify([status.total, status.today]);
  if (done !== finished) {
    finished = done;
    showReport();
  }
}

// Whether the page has the station: said plainly when it is lost, and when it is back.
let lostAt = null;

function linkShown(text, lost) {
  const link = $("link");
  link.textContent = text;
  link.className = lost ? "lost" : "back";
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
      askCommands();
    }
    showStatusAndReport(JSON.parse(event.data));
  });
  events.onerror = () => {
    if (lostAt === null) lostAt = Date.now();
    const since = new Date(lostAt).toLocaleTimeString();
    linkShown(`lost the station at ${since}: what is shown may be old; reconnecting`, true);
    // A browser gives up on a stream whose reconnection was answered with no stream (a
    // proxy's 502 while the station is down, a password changed): follow it anew, unless
    // the station wants the password again, which only a reload can ask.
    if (events.readyState === EventSource.CLOSED) {
      fetch("/api/status")
        .then((response) => {
          if (response.status === 401) {
            linkShown("the station asks for the password again: reload the page", true);
          } else {
            setTimeout(follow, RECONNECT_MS);
          }
        })
        .catch(() => setTimeout(follow, RECONNECT_MS));
    }
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
