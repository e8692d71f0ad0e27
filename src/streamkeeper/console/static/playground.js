// Policy playground: drives the real /v2 API from the browser (HTTP Basic: application id, empty password).
"use strict";
(function () {
  const apps = JSON.parse(document.getElementById("applications").textContent);
  const byId = Object.fromEntries(apps.map(a => [a.id, a]));
  const appSel = document.getElementById("app"), idp = document.getElementById("idp"), subject = document.getElementById("subject");
  const metaBox = document.getElementById("metadata"), outcome = document.getElementById("outcome");
  const mine = new Map();   // sessionId -> {app, idp, subject, expires, beats, state, timer}

  const auth = appId => ({ Authorization: "Basic " + btoa(appId + ":") });
  const path = (i, s) => `/v2/sessions/${encodeURIComponent(i)}/${encodeURIComponent(s)}`;

  function metaRow(name, value, required) {
    const row = SK.el(`<div class="inline meta"><label>Name <input class="mname" value="${SK.esc(name)}" ${required ? "readonly" : ""}></label>
      <label>Value <input class="mvalue" value="${SK.esc(value || "")}" ${required ? "required" : ""}></label>
      ${required ? '<span class="pill warn">required by a policy</span>' : '<button type="button" class="small">remove</button>'}</div>`);
    const rm = row.querySelector("button"); if (rm) rm.onclick = () => row.remove();
    metaBox.appendChild(row);
  }
  function resetMeta() {
    // Required attributes are only named here: starting without them shows the API's 400 obligation.
    metaBox.innerHTML = "";
    const a = byId[appSel.value];
    const hint = document.getElementById("meta-hint");
    hint.textContent = a && a.metadata.length ? "Its policies need: " + a.metadata.join(", ") : "Its policies need no metadata.";
  }
  function metadata() {
    const out = new URLSearchParams();
    metaBox.querySelectorAll(".meta").forEach(r => {
      const n = r.querySelector(".mname").value.trim(), v = r.querySelector(".mvalue").value;
      if (n && v !== "") out.append(n, v);
    });
    return out;
  }
  appSel.addEventListener("change", () => { idp.value = byId[appSel.value].tenant; resetMeta(); });
  document.getElementById("add-meta").onclick = () => metaRow("", "", false);
  idp.value = apps.length ? byId[appSel.value].tenant : "";
  resetMeta();

  async function start(terminate) {
    clearTimeout(outcome._clear); outcome.innerHTML = "";
    const appId = appSel.value, i = idp.value, s = subject.value;
    const headers = Object.assign({ "Content-Type": "application/x-www-form-urlencoded" }, auth(appId));
    if (terminate && terminate.length) headers["X-Terminate"] = terminate.join(",");
    const res = await fetch(path(i, s), { method: "POST", headers, body: metadata().toString(), credentials: "omit" });
    const text = await res.text();
    let body = null; try { body = text ? JSON.parse(text) : null; } catch (e) { body = text; }
    if (res.status === 202) {
      const sid = res.headers.get("Location");
      const expires = Date.parse(res.headers.get("Expires"));
      const skew = Date.now() - Date.parse(res.headers.get("Date"));
      outcome.innerHTML = `<p class="ok" id="admitted">Admitted: session <code>${SK.esc(sid)}</code> (202)</p>`;
      clearTimeout(outcome._clear);   // the banner says what just happened; the table below keeps it
      outcome._clear = setTimeout(() => { const a = document.getElementById("admitted"); if (a) a.remove(); }, 8000);
      const entry = { sid, app: appId, idp: i, subject: s, expires, skew, beats: 0, state: "running" };
      mine.set(sid, entry); schedule(entry); draw(); running();
      return;
    }
    if (res.status === 409) return showConflict(body);
    if (res.status === 400 && body && (body.obligations || []).some(o => (o.arguments || []).includes("metadata"))) {
      return showObligation(appId);
    }
    outcome.innerHTML = `<p class="error">${res.status}: ${SK.esc(SK.message(body) || text || res.statusText)}</p>`;
  }

  function showConflict(body) {
    const advice = (body && body.associatedAdvice) || [];
    const parts = advice.map(a => {
      const conflicts = Object.values(a.conflicts || {}).flat();
      const seen = new Set(); const rows = [];
      conflicts.forEach(c => { if (!seen.has(c.terminationCode)) { seen.add(c.terminationCode); rows.push(c); } });
      return `<div class="advice"><b>${SK.esc(a.policyName)} / ${SK.esc(a.ruleName)}</b>: ${SK.esc(a.message)}
        <table class="conflicts"><thead><tr><th>Conflicting session</th><th>Application</th><th>Metadata</th><th>Termination code</th><th></th></tr></thead><tbody>
        ${rows.map(c => `<tr><td><code>${SK.esc(c.sessionId)}</code></td><td>${SK.esc(c.applicationId)}</td><td>${SK.meta(c.metadata)}</td>
          <td><code>${SK.esc(c.terminationCode)}</code></td>
          <td class="actions"><button class="small danger" data-terminate="${SK.esc(c.terminationCode)}">Terminate &amp; retry</button></td></tr>`).join("")}
        </tbody></table></div>`;
    });
    outcome.innerHTML = `<p class="error" id="denied">Denied (409): a policy does not allow another stream now.</p>` + parts.join("");
  }

  async function showObligation(appId) {
    const res = await fetch("/v2/metadata", { headers: auth(appId), credentials: "omit" });
    const names = res.ok ? await res.json() : [];
    outcome.innerHTML = `<div class="obligation" id="obligation"><b>400: this application's policies need metadata</b>
      <form class="inline" id="obligation-form">${names.map(n => `<label>${SK.esc(n)} <input name="${SK.esc(n)}" required></label>`).join("")}
      <button class="primary" type="submit">Start with this metadata</button></form></div>`;
    document.getElementById("obligation-form").onsubmit = ev => {
      ev.preventDefault();
      const values = SK.form(ev.target);
      metaBox.querySelectorAll(".meta").forEach(r => { const n = r.querySelector(".mname").value; if (n in values) { r.remove(); } });
      Object.entries(values).forEach(([n, v]) => metaRow(n, v, true));
      start().catch(e => SK.toast(e.message));
    };
  }

  outcome.addEventListener("click", ev => {
    const b = ev.target.closest("button[data-terminate]");
    if (b) start([b.dataset.terminate]).catch(e => SK.toast(e.message));
  });
  document.getElementById("start").addEventListener("submit", ev => { ev.preventDefault(); start().catch(e => SK.toast(e.message)); });

  function schedule(e) {
    clearTimeout(e.timer);
    if (e.state !== "running") return;
    // Expires is on the server's clock: beat two seconds before it, on ours.
    const wait = Math.max(1000, e.expires + e.skew - Date.now() - 2000);
    e.timer = setTimeout(() => beat(e), wait);
  }
  async function beat(e) {
    const res = await fetch(path(e.idp, e.subject) + "/" + encodeURIComponent(e.sid), { method: "POST", headers: auth(e.app), credentials: "omit" });
    if (res.status === 202) {
      e.beats += 1; e.expires = Date.parse(res.headers.get("Expires")); schedule(e);
    } else {
      const text = await res.text(); let body = null; try { body = JSON.parse(text); } catch (x) { }
      const advice = body && (body.associatedAdvice || [])[0];
      const by = advice && advice.terminator && advice.terminator.sessionId ? ` ${advice.terminator.sessionId}` : "";
      if (res.status === 410 && advice && advice.type === "remote-termination") e.state = "terminated by another stream" + by;
      else if (advice && advice.type === "rule-violation") e.state = `evicted by the newer stream${by} (${res.status}): ${advice.ruleName || advice.message || "a FIFO rule"}`;
      else if (res.status === 410 && advice && advice.type === "operator-termination") e.state = `ended by the operator ${advice.operator} (410)`;
      else if (res.status === 410) e.state = "ended elsewhere (410): stopped by its player, or expired";
      else if (res.status === 409) e.state = "evicted (409)";
      else e.state = "error " + res.status + (SK.message(body) ? ": " + SK.message(body) : "");
    }
    draw(); running();
  }
  async function stop(e) {
    clearTimeout(e.timer);
    const res = await fetch(path(e.idp, e.subject) + "/" + encodeURIComponent(e.sid), { method: "DELETE", headers: auth(e.app), credentials: "omit" });
    e.state = res.status === 202 ? "stopped" : res.status === 410 ? "had already ended (410)" : "error " + res.status;
    draw(); running();
  }
  function draw() {
    const body = document.querySelector("#mine tbody");
    body.innerHTML = [...mine.values()].reverse().map(e => `<tr data-sid="${SK.esc(e.sid)}"><td data-label="Session"><code>${SK.esc(e.sid)}</code></td><td data-label="Application">${SK.esc(e.app)}</td>
      <td data-label="Expires">${e.state === "running" ? SK.time(e.expires) : ""}</td><td data-label="Heartbeats">${e.beats}</td>
      <td data-label="State"><span class="pill ${e.state === "running" ? "ok" : e.state === "stopped" ? "" : "bad"}">${SK.esc(e.state)}</span></td>
      <td class="actions">${e.state === "running" ? `<button class="small" data-beat="${SK.esc(e.sid)}">Heartbeat</button> <button class="small danger" data-stop="${SK.esc(e.sid)}">Stop</button>` : ""}</td></tr>`).join("");
  }
  document.querySelector("#mine").addEventListener("click", ev => {
    const b = ev.target.closest("button"); if (!b) return;
    const e = mine.get(b.dataset.beat || b.dataset.stop); if (!e) return;
    (b.dataset.beat ? beat(e) : stop(e)).catch(x => SK.toast(x.message));
  });

  const runningTurn = SK.turns();
  async function running() {
    const current = runningTurn();
    const res = await fetch(`/v2/runningStreams/${encodeURIComponent(idp.value)}/${encodeURIComponent(subject.value)}`, { headers: auth(appSel.value), credentials: "omit" });
    const r = res.ok ? await res.json() : null;
    if (!current()) return;
    const box = document.getElementById("running");
    if (!r) { box.innerHTML = `<p class="muted">Cannot ask (${res.status}).</p>`; return; }
    box.innerHTML = (r.runningStreams.length ? `<table id="running-streams"><thead><tr><th>Session</th><th>Application</th><th>Started</th><th>Metadata</th><th>Termination code</th></tr></thead><tbody>` +
      r.runningStreams.map(s => `<tr><td><code>${SK.esc(s.sessionId)}</code></td><td>${SK.esc(s.applicationId)}</td><td>${SK.time(s.startTime)}</td>
        <td>${SK.meta(s.metadata)}</td><td><code>${SK.esc(s.terminationCode)}</code></td></tr>`).join("") + "</tbody></table>"
      : '<p class="muted">Streams running: none.</p>') + (r.otherStreams ? `<p class="muted">and ${r.otherStreams} of other tenants</p>` : "");
  }
  setInterval(() => { if (!document.hidden) running().catch(() => {}); }, 3000);
  running().catch(() => {});
})();
