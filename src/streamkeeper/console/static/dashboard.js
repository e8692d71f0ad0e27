// Concurrency dashboard: live counts and charts (5 min, 1 h, 24 h) from /console/api/stats, subject lookup.
"use strict";
(function () {
  const OUTCOMES = { admissions: "#2456d6", denials: "#c4302b", evictions: "#b26a00", expiries: "#6b7385" };
  const charts = {};
  const appSelect = document.getElementById("chart-app");
  const TITLES = { "5m": "Last 5 minutes, per 5 seconds", "1h": "Last hour, per minute", "24h": "Last 24 hours, per 15 minutes" };
  let range = "1h", chosen = false;

  function chart(name, color, xs, ys) {
    const box = document.getElementById("chart-" + name);
    const data = [xs, ys];
    if (charts[name]) { charts[name].setData(data); return; }
    const opts = {
      width: Math.max(box.clientWidth, 280), height: 170, legend: { show: false },
      scales: { x: { time: true }, y: { range: (u, min, max) => [0, Math.max(3, max)] } },
      axes: [{ space: 70, values: (u, splits) => splits.map(v => SK.clock(v * 1000)) }, { size: 40 }],
      series: [{}, { label: name, stroke: color, fill: color + "33", width: 2, paths: uPlot.paths.stepped({ align: 1 }) }],
    };
    charts[name] = new uPlot(opts, data, box);
  }

  const statsTurn = SK.turns(), subjectTurn = SK.turns();
  async function refresh() {
    const q = "?" + new URLSearchParams(Object.assign({ range }, appSelect.value ? { application: appSelect.value } : {}));
    const current = statsTurn();
    const s = await SK.api("GET", "/console/api/stats" + q);
    if (!current()) return;
    document.getElementById("live-total").textContent = s.live === null ? "n/a" : s.live;
    const body = document.querySelector("#apps tbody");
    document.getElementById("apps-empty").hidden = s.applications.length > 0;
    body.innerHTML = s.applications.map(a => `<tr data-app="${SK.esc(a.application)}">
      <td data-label="Tenant">${SK.esc(a.tenant)}</td><td data-label="Application">${SK.esc(a.application)} <small class="muted">${SK.esc(a.name)}</small>
      ${a.enabled ? "" : '<span class="pill bad">disabled</span>'}</td>
      <td class="live" data-label="Live"><b>${a.live === null ? "n/a" : a.live}</b></td><td data-label="Admitted">${a.admissions || 0}</td><td data-label="Denied">${a.denials || 0}</td>
      <td data-label="Evicted">${a.evictions || 0}</td><td data-label="Terminated">${a.terminations || 0}</td><td data-label="Expired">${a.expiries || 0}</td></tr>`).join("");
    const tenants = {};
    s.applications.forEach(a => { if (a.live !== null) tenants[a.tenant] = (tenants[a.tenant] || 0) + a.live; });
    document.querySelector("#tenants tbody").innerHTML = Object.entries(tenants).map(([t, n]) =>
      `<tr data-tenant="${SK.esc(t)}"><td>${SK.esc(t)}</td><td><b>${n}</b></td></tr>`).join("");
    if (!chosen && s.now - s.series.since < 600 && range !== "5m") {   // a fresh server: its first minutes
      chosen = true; pick(document.querySelector('[data-range="5m"]')); return;
    }
    chosen = true;
    const perMinute = s.series.range === "5m" && s.series.step >= 60;
    document.getElementById("chart-title").textContent = perMinute ? "Last 5 minutes, per minute" : (TITLES[s.series.range] || TITLES["1h"]);
    const who = s.series.source === "deployment" ? "every worker and server" : "this server process";
    document.getElementById("chart-since").textContent = `Counted by ${who} since ${SK.dateTime(s.series.since * 1000)}; earlier times are left blank.`;
    const app = appSelect.value ? "&application=" + encodeURIComponent(appSelect.value) : "";
    const month = new Date((s.now - 30 * 86400) * 1000).toISOString().slice(0, 19) + "Z";
    document.getElementById("csv-day").href = "/admin/v1/usage?format=csv" + app;
    document.getElementById("csv-month").href = "/admin/v1/usage?format=csv&step=3600&from=" + month + app;
    const xs = s.series.times.map(t => Math.round(t));
    for (const [name, color] of Object.entries(OUTCOMES)) chart(name, color, xs, s.series[name]);
  }

  appSelect.addEventListener("change", refresh);
  function pick(b) {
    range = b.dataset.range;
    document.querySelectorAll("[data-range]").forEach(x => x.setAttribute("aria-pressed", String(x === b)));
    refresh().catch(e => SK.toast(e.message));
  }
  document.querySelectorAll("[data-range]").forEach(b => b.addEventListener("click", () => { chosen = true; pick(b); }));
  SK.every(5000, () => refresh().catch(e => SK.toast(e.message)));

  const result = document.getElementById("subject-result");
  // enforced playback (a /play token URL): when its last playlist or segment was fetched
  const playback = p => !p ? '<span class="muted">not enforced</span>'
    : "enforced" + (p.lastFetch ? `, last fetch ${SK.time(p.lastFetch * 1000)}` : ", nothing fetched yet");
  let current = null;
  async function lookup() {
    if (!current) return;
    const { idp, subject } = current, newest = subjectTurn();
    const r = await SK.api("GET", `/console/api/subjects/${encodeURIComponent(idp)}/${encodeURIComponent(subject)}`);
    if (!newest()) return;
    if (!r.runningStreams.length) { result.innerHTML = `<p class="muted">No running streams for ${SK.esc(subject)}.</p>`; return; }
    result.innerHTML = `<table id="subject-streams" class="stack-sm"><thead><tr><th>Session</th><th>Application</th><th>Started</th><th>Expires</th>
      <th>Metadata</th><th>Termination code</th><th>Playback</th><th></th></tr></thead><tbody>` + r.runningStreams.map(s => `<tr>
      <td data-label="Session"><code>${SK.esc(s.sessionId)}</code></td><td data-label="Application">${SK.esc(s.applicationId)}</td>
      <td data-label="Started">${SK.time(s.startTime * 1000)}</td><td data-label="Expires">${SK.time(s.expires * 1000)}</td><td data-label="Metadata">${SK.meta(s.metadata)}</td>
      <td data-label="Termination code"><code>${SK.esc(s.terminationCode)}</code></td>
      <td data-label="Playback" class="playback">${playback(s.playback)}</td>
      <td class="actions"><button class="small danger" data-end="${SK.esc(s.sessionId)}" data-app="${SK.esc(s.applicationId)}">End stream</button></td></tr>`).join("")
      + "</tbody></table>";
  }
  document.getElementById("lookup").addEventListener("submit", ev => {
    ev.preventDefault();
    current = SK.form(ev.target);
    lookup().catch(e => { result.innerHTML = `<p class="error">${SK.esc(e.message)}</p>`; });
  });
  result.addEventListener("click", async ev => {
    const b = ev.target.closest("button[data-end]");
    if (!b) return;
    const { idp, subject } = current;
    try {
      await SK.api("POST", `/console/api/subjects/${encodeURIComponent(idp)}/${encodeURIComponent(subject)}/${encodeURIComponent(b.dataset.end)}/end?application=${encodeURIComponent(b.dataset.app)}`);
      SK.toast("Stream ended");
    } catch (e) { SK.toast(e.message); }
    lookup();
  });
  setInterval(() => { if (current && !document.hidden) lookup().catch(() => {}); }, 5000);
})();
