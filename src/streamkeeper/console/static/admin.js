// Administration: list, create, replace and delete one kind of object through /admin/v1 (login cookie).
"use strict";
(function () {
  const { kind, spec } = JSON.parse(document.getElementById("spec").textContent);
  const base = "/admin/v1/" + kind;
  const editor = document.getElementById("editor"), json = document.getElementById("json"), err = document.getElementById("editor-error");
  let editing = null;   // id of the object being replaced, null when creating
  let objects = [];
  const turn = SK.turns();

  async function load() {
    const current = turn();
    const list = await SK.api("GET", base);
    if (!current()) return;
    objects = list;
    document.querySelector("#objects tbody").innerHTML = objects.map((o, i) => `<tr data-id="${SK.esc(o[spec.key])}">` +
      spec.columns.map(c => `<td>${typeof o[c] === "object" && o[c] !== null && !Array.isArray(o[c]) || (Array.isArray(o[c]) && o[c].some(x => typeof x === "object"))
        ? `<code>${SK.esc(SK.fmt(o[c]))}</code>` : SK.esc(SK.fmt(o[c]))}</td>`).join("") +
      `<td style="white-space:nowrap"><button class="small" data-edit="${i}">Edit</button> <button class="small danger" data-delete="${i}">Delete</button></td></tr>`).join("");
  }
  function open(title, value, id) {
    editing = id; err.innerHTML = "";
    document.getElementById("editor-title").textContent = title;
    json.value = JSON.stringify(value, null, 2);
    editor.hidden = false; json.focus();
  }
  document.getElementById("new").onclick = () => open("New " + spec.title.toLowerCase().replace(/s$/, ""), spec.template, null);
  document.getElementById("cancel").onclick = () => { editor.hidden = true; };
  document.querySelector("#objects").addEventListener("click", async ev => {
    const b = ev.target.closest("button"); if (!b) return;
    const o = objects[+(b.dataset.edit || b.dataset.delete)];
    if (b.dataset.edit !== undefined) {
      const body = Object.assign({}, o); spec.readonly.forEach(k => delete body[k]);
      open("Edit " + o[spec.key], body, o[spec.key]);
    } else if (confirm("Delete " + o[spec.key] + "?")) {
      try { await SK.api("DELETE", base + "/" + encodeURIComponent(o[spec.key])); SK.toast("Deleted"); } catch (e) { SK.toast(e.message); }
      load();
    }
  });
  document.getElementById("save").onclick = async () => {
    let body;
    try { body = JSON.parse(json.value); } catch (e) { err.innerHTML = `<p class="error">Not JSON: ${SK.esc(e.message)}</p>`; return; }
    try {
      if (editing === null) await SK.api("POST", base, body);
      else await SK.api("PUT", base + "/" + encodeURIComponent(editing), body);
      editor.hidden = true; SK.toast("Saved"); load();
    } catch (e) { err.innerHTML = `<p class="error">${e.status}: ${SK.esc(e.message)}</p>`; }
  };
  load().catch(e => SK.toast(e.message));
})();
