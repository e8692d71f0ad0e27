// Live page: sources (status, bitrate, thumbnail), sessions (record, sources, events, shares), recordings.
"use strict";
(function () {
  const caps = document.getElementById("caps").dataset;  // what the role allows (the API still checks each object)
  let sources = [];
  const sourcesTurn = SK.turns(), sessionsTurn = SK.turns(), recordingsTurn = SK.turns();
  async function drawSources() {
    const current = sourcesTurn();
    const list = await SK.list("/apis/sources");
    if (!current()) return;
    sources = list;
    const box = document.getElementById("sources");
    if (!sources.length) { box.innerHTML = `<p class="empty">No sources yet. A source is a live feed (MPEG-TS over UDP, or SRT)${document.getElementById("new-source") ? ": open \u201cAdd a source\u201d below to add the first" : ""}.</p>`; return; }
    const t = Date.now();
    box.innerHTML = sources.map(s => `<div class="tile source" data-id="${SK.esc(s.id)}">
      ${s.active ? `<img alt="" src="/apis/sources/${encodeURIComponent(s.id)}/thumbnail?width=320&t=${t}" onerror="this.style.visibility='hidden'">` : '<div class="thumb"></div>'}
      <div class="body"><b>${SK.esc(s.name)}</b> <span class="pill ${s.active ? "ok" : "bad"}">${s.active ? "active" : "no signal"}</span><br>
      <small class="muted">${SK.esc(s.type)} ${SK.esc(s.host || "")}:${SK.esc(s.port || "")} · <span class="bitrate">${SK.rate(s.bitrate)}</span></small>
      <div style="margin-top:6px">${s.active ? `<a class="watch button small" href="/console/watch?${new URLSearchParams({ src: "/apis/sources/" + encodeURIComponent(s.id) + "/hls/live.m3u8", title: s.name, back: "/console/media" })}">Watch live<span class="sr-only"> ${SK.esc(s.name)}</span></a> ` : ""}<button class="small" data-source-shares="${SK.esc(s.id)}">Shares</button>
      <button class="small danger" data-source-delete="${SK.esc(s.id)}">Delete</button></div><div class="share-box"></div></div></div>`).join("");
  }
  document.getElementById("sources").addEventListener("click", async ev => {
    const b = ev.target.closest("button"); if (!b) return;
    if (b.dataset.sourceShares) SK.shares(b.closest(".tile").querySelector(".share-box"), "sources", b.dataset.sourceShares);
    if (b.dataset.sourceDelete && confirm("Delete this source?")) {
      try { await SK.api("DELETE", "/apis/sources/" + encodeURIComponent(b.dataset.sourceDelete)); } catch (e) { SK.toast(e.message); }
      drawSources();
    }
  });
  const newSource = document.getElementById("new-source");
  if (newSource) newSource.onsubmit = async ev => {
    ev.preventDefault();
    const f = SK.form(ev.target);
    const body = { name: f.name, type: f.type, host: f.host, port: +f.port, multicast: !!f.multicast };
    try { await SK.api("POST", "/apis/sources", body); SK.toast("Source added"); ev.target.reset(); } catch (e) { SK.toast(e.message); }
    drawSources();
  };

  let sessions = [];
  const sourceName = id => { const id2 = typeof id === "object" ? id.sourceId || id.id : id; const s = sources.find(x => x.id === id2); return s ? s.name : id2; };
  async function drawSessions() {
    const current = sessionsTurn();
    const list = await SK.list("/apis/sessions");
    if (!current()) return;
    sessions = list;
    document.getElementById("sessions-empty").hidden = sessions.length > 0;
    document.getElementById("sessions").hidden = !sessions.length;
    document.querySelector("#sessions tbody").innerHTML = sessions.map(s => `<tr data-id="${SK.esc(s.id)}">
      <td data-label="Title"><b>${SK.esc(s.title)}</b></td><td data-label="Sources">${SK.esc((s.sources || []).map(sourceName).join(", ")) || '<span class="muted">none yet</span>'}</td>
      <td data-label="State">${s.recording ? '<span class="pill bad">recording</span>' : '<span class="pill">idle</span>'}</td>
      <td class="actions">${caps.record ? `<button class="small" data-record="${SK.esc(s.id)}" ${s.recording ? "disabled" : ""}>Record</button>` : ""}
      ${caps.edit || caps.share ? `<button class="small" data-open="${SK.esc(s.id)}">Sources, events, shares</button>` : ""}</td></tr>`).join("");
  }
  const newSession = document.getElementById("new-session");
  if (newSession) newSession.onsubmit = async ev => {
    ev.preventDefault();
    try { await SK.api("POST", "/apis/sessions", { title: SK.form(ev.target).title, active: true }); ev.target.reset(); } catch (e) { SK.toast(e.message); }
    drawSessions();
  };
  document.getElementById("sessions").addEventListener("click", async ev => {
    const b = ev.target.closest("button"); if (!b) return;
    if (b.dataset.record) {
      try { await SK.api("POST", `/apis/sessions/${encodeURIComponent(b.dataset.record)}/recordings`, {}); SK.toast("Recording started"); } catch (e) { SK.toast(e.message); }
      drawSessions(); drawRecordings();
    }
    if (b.dataset.open) openSession(b.dataset.open);
  });

  async function openSession(id) {
    const s = sessions.find(x => x.id === id); const box = document.getElementById("session-detail");
    box.innerHTML = `<h3>${SK.esc(s.title)}</h3>
      <div class="row"><div class="grow"><h3>Sources</h3><div id="sess-sources"></div>
        <form class="inline" id="add-source"><label>Add source <select name="sourceId">${sources.map(x => `<option value="${SK.esc(x.id)}">${SK.esc(x.name)}</option>`).join("")}</select></label><button type="submit">Add</button></form></div>
      <div class="grow"><h3>Events</h3><div id="sess-events"></div>
        <form class="inline" id="add-event"><label>Title <input name="title" required></label>
          <label>Command <select name="command"><option>record</option><option>set-live</option></select></label>
          <label>Starts <input type="datetime-local" name="start" required></label>
          <label>Duration (s) <input type="number" name="duration" value="600" min="1"></label>
          <label>Repeat <select name="type"><option value="one-time">once</option><option value="weekly-recurring">weekly (same day)</option></select></label>
          <button type="submit">Schedule</button></form></div>
      <div class="grow"><h3>Shares</h3><div id="sess-shares"></div></div></div>`;
    const base = `/apis/sessions/${encodeURIComponent(id)}`;
    const srcsTurn = SK.turns(), eventsTurn = SK.turns();
    async function srcs() {
      const current = srcsTurn();
      const list = await SK.list(base + "/sources");
      if (!current()) return;
      document.getElementById("sess-sources").innerHTML = list.length ? "<ul>" + list.map(x => `<li>${SK.esc(sourceName(x))} <button class="small danger" data-detach="${SK.esc(x.sourceId)}">remove</button></li>`).join("") + "</ul>" : '<p class="muted">No sources in this session yet: add one below.</p>';
    }
    async function events() {
      const current = eventsTurn();
      const list = await SK.list(base + "/events");
      if (!current()) return;
      document.getElementById("sess-events").innerHTML = list.length ? "<ul>" + list.map(e => `<li>${SK.esc(e.title)}: ${SK.esc(e.command)} at ${SK.dateTime(e.startTime * 1000)} (${SK.esc(e.type)}) <button class="small danger" data-unschedule="${SK.esc(e.id)}">delete</button></li>`).join("") + "</ul>" : '<p class="muted">No events: schedule a recording or a live period below.</p>';
    }
    box.onclick = async ev => {
      const b = ev.target.closest("button"); if (!b) return;
      try {
        if (b.dataset.detach) { await SK.api("DELETE", base + "/sources/" + encodeURIComponent(b.dataset.detach)); srcs(); drawSessions(); }
        if (b.dataset.unschedule) { await SK.api("DELETE", base + "/events/" + encodeURIComponent(b.dataset.unschedule)); events(); }
      } catch (e) { SK.toast(e.message); }
    };
    document.getElementById("add-source").onsubmit = async ev => {
      ev.preventDefault();
      try { await SK.api("POST", base + "/sources", SK.form(ev.target)); } catch (e) { SK.toast(e.message); }
      srcs(); drawSessions();
    };
    document.getElementById("add-event").onsubmit = async ev => {
      ev.preventDefault();
      const f = SK.form(ev.target); const start = Math.floor(new Date(f.start).getTime() / 1000);
      const body = { title: f.title, command: f.command, type: f.type, startTime: start, duration: +f.duration };
      if (f.command === "set-live") body.parameters = { record: false };
      if (f.type === "weekly-recurring") body.typeData = { days: [["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"][new Date(f.start).getDay()]] };
      try { await SK.api("POST", base + "/events", body); SK.toast("Scheduled"); } catch (e) { SK.toast(e.message); }
      events();
    };
    srcs().catch(e => SK.toast(e.message)); events().catch(e => SK.toast(e.message));
    SK.shares(document.getElementById("sess-shares"), "sessions", id);
  }

  async function drawRecordings() {
    const current = recordingsTurn();
    const list = await SK.list("/apis/recordings");
    if (!current()) return;
    document.querySelector("#recordings tbody").innerHTML = list.length ? list.map(r => `<tr data-id="${SK.esc(r.id)}">
      <td data-label="Title">${SK.esc(r.title)}</td><td data-label="Session">${SK.esc((sessions.find(s => s.id === r.session) || {}).title || r.session)}</td>
      <td data-label="State"><span class="pill ${r.state === "RECORDING" ? "bad" : "warn"}">${SK.esc(String(r.state).toLowerCase())}</span></td><td data-label="Duration">${(r.duration || 0).toFixed(1)} s</td>
      <td style="white-space:nowrap">${r.state === "RECORDING" ? `<button class="small" data-pause="${SK.esc(r.id)}">Pause</button>` : `<button class="small" data-resume="${SK.esc(r.id)}">Resume</button>`}
      <button class="small" data-hotmark="${SK.esc(r.id)}">HotMark</button> <button class="small danger" data-stop="${SK.esc(r.id)}">Stop</button></td></tr>`).join("")
      : '<tr><td colspan="5" class="muted">No recording in progress.</td></tr>';
  }
  document.getElementById("recordings").addEventListener("click", async ev => {
    const b = ev.target.closest("button"); if (!b) return;
    const id = encodeURIComponent(b.dataset.pause || b.dataset.resume || b.dataset.hotmark || b.dataset.stop);
    try {
      if (b.dataset.pause) await SK.api("PUT", "/apis/recordings/" + id, { state: "PAUSED" });
      if (b.dataset.resume) await SK.api("PUT", "/apis/recordings/" + id, { state: "RECORDING" });
      if (b.dataset.hotmark) { const title = prompt("HotMark title", "mark"); if (title !== null) { await SK.api("POST", `/apis/recordings/${id}/hotmarks`, { title }); SK.toast("HotMark added"); } }
      if (b.dataset.stop) { await SK.api("DELETE", "/apis/recordings/" + id); SK.toast("Stopped: the recording is now a video in the library"); }
    } catch (e) { SK.toast(e.message); }
    drawRecordings(); drawSessions();
  });

  if (!document.getElementById("sources-card").hidden) SK.every(5000, () => drawSources().catch(e => SK.toast(e.message)));
  drawSessions().catch(e => SK.toast(e.message)).then(() => SK.every(5000, () => drawRecordings().catch(() => {})));
})();
