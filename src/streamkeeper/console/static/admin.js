// Administration: list, create, replace and delete one kind of object through /admin/v1 (login cookie),
// with a form per kind (described in administration.py): pickers, rule rows, a permission matrix.
"use strict";
(function () {
  const { kind, spec, me } = JSON.parse(document.getElementById("spec").textContent);
  const base = "/admin/v1/" + kind;
  const editor = document.getElementById("editor"), form = document.getElementById("object-form");
  const general = document.getElementById("editor-error");
  const sources = {};   // kind -> list of objects, for pickers and names in the table
  let editing = null;   // the object being replaced, null when creating
  let objects = [];
  const turn = SK.turns();
  const $$ = (sel, root) => [...(root || document).querySelectorAll(sel)];

  // ---- a policy rule in the operator's words ----
  function ruleSentence(r) {
    const t = Number(r.threshold);
    const cond = (r.condition || "").trim(), live = /^contentType\s*=\s*"?([A-Za-z0-9_-]+)"?$/.exec(cond);
    let what;
    if (r.distinct) what = `distinct ${r.distinct} values`;
    else what = (live ? live[1] + " " : "") + (t === 1 ? "stream" : "streams");
    const scope = (r.scope || []).filter(Boolean);
    return `at most ${isNaN(t) ? "?" : t} ${what}` + (scope.length ? " per " + scope.join(" and ") : " in all")
      + (cond && !live ? ` where ${cond}` : "")
      + (r.conflict === "FIFO" ? "; the oldest is stopped" : "; a new one is refused");
  }
  SK.ruleSentence = ruleSentence;

  // ---- the table ----
  const nameOf = (source, id) => { const o = (sources[source] || []).find(x => x.id === id); return o ? (o.name || o.id) : id; };
  function cell(value, how, o) {
    if (how === "permissions" && o.admin) return "everything, everywhere (administrator)";
    if (value === undefined || value === null || value === "" || (Array.isArray(value) && !value.length)) return '<span class="muted">–</span>';
    switch (how) {
      case "yesno": return value ? "yes" : "no";
      case "code": return `<code>${SK.esc(value)}</code>`;
      case "seconds": return `${SK.esc(value)} s`;
      case "list": return SK.esc(value.join(", "));
      case "roles": return SK.esc(value.map(id => nameOf("roles", id)).join(", "));
      case "policies": return SK.esc(value.map(id => nameOf("policies", id)).join(", "));
      case "rules": return "<ul class=\"plain\">" + value.map(r => `<li><b>${SK.esc(r.name)}</b>: ${SK.esc(ruleSentence(r))}</li>`).join("") + "</ul>";
      case "permissions": {
        const parts = Object.entries(value).filter(([, a]) => a.length);
        return parts.length ? "<ul class=\"plain\">" + parts.map(([area, acts]) =>
          `<li><b>${SK.esc(area)}</b>: ${SK.esc(acts.map(a => a.toLowerCase().replace("_", " ")).join(", "))}</li>`).join("") + "</ul>" : '<span class="muted">nothing</span>';
      }
      default: return SK.esc(value);
    }
  }
  const deletable = o => !(kind === "roles" && o.builtin) && !(kind === "users" && (o.id === me.id || o.username === me.username));
  async function load() {
    const current = turn();
    const list = await SK.api("GET", base);
    if (!current()) return;
    objects = list;
    document.getElementById("empty").hidden = objects.length > 0;
    document.getElementById("objects").hidden = objects.length === 0;
    document.querySelector("#objects tbody").innerHTML = objects.map((o, i) => `<tr data-id="${SK.esc(o[spec.key])}">` +
      spec.columns.map(([field, heading, how]) => `<td data-label="${SK.esc(heading)}">${cell(o[field], how, o)}</td>`).join("") +
      `<td class="actions"><button class="small" type="button" data-edit="${i}">Edit<span class="sr-only"> ${SK.esc(o[spec.label] || o[spec.key])}</span></button>
        ${deletable(o) ? `<button class="small danger" type="button" data-delete="${i}">Delete<span class="sr-only"> ${SK.esc(o[spec.label] || o[spec.key])}</span></button>` : ""}</td></tr>`).join("");
  }
  async function loadSources() {
    const wanted = new Set(spec.fields.filter(f => f.source).map(f => f.source));
    if (kind === "users" || kind === "groups") wanted.add("roles");
    if (kind === "applications") wanted.add("policies");
    await Promise.all([...wanted].map(async s => { sources[s] = await SK.api("GET", "/admin/v1/" + s); }));
  }

  // ---- the form ----
  let uid = 0;
  const fid = () => "f" + (++uid);
  function help(f, id) { return f.help ? `<small class="help" id="${id}-help">${SK.esc(f.help)}</small>` : ""; }
  const errSlot = path => `<p class="field-error" data-error-for="${SK.esc(path)}" hidden></p>`;

  function field(f, value, creating) {
    const id = fid(), desc = f.help ? `aria-describedby="${id}-help"` : "";
    const locked = f.createOnly && !creating;
    const wrap = SK.el(`<div class="field" data-field="${SK.esc(f.name)}" data-path="${SK.esc(f.name)}"></div>`);
    const req = f.required ? " required" : "";
    switch (f.widget) {
      case "checkbox":
        wrap.innerHTML = `<label class="check"><input type="checkbox" id="${id}" ${value ? "checked" : ""}> ${SK.esc(f.label)}</label>`; break;
      case "select": {
        const opts = f.options ? f.options.map(o => [o, o]) : (sources[f.source] || []).map(o => [o.id, `${o.name || o.id} (${o.id})`]);
        if (value && !opts.some(([v]) => v === value)) opts.push([value, value]);
        wrap.innerHTML = `<label for="${id}">${SK.esc(f.label)}</label><select id="${id}"${req} ${desc}>` +
          (opts.length ? "" : '<option value="">(none yet)</option>') +
          opts.map(([v, l]) => `<option value="${SK.esc(v)}" ${v === value ? "selected" : ""}>${SK.esc(l)}</option>`).join("") + `</select>`;
        break;
      }
      case "textarea":
        wrap.innerHTML = `<label for="${id}">${SK.esc(f.label)}</label><textarea id="${id}" rows="5" spellcheck="false" ${desc}>${SK.esc(value || "")}</textarea>`; break;
      case "tags":
        wrap.innerHTML = `<label for="${id}">${SK.esc(f.label)}</label><input id="${id}" value="${SK.esc((value || []).join(", "))}" ${desc}>`; break;
      case "picker": wrap.innerHTML = `<fieldset><legend>${SK.esc(f.label)}</legend><div class="picks"></div></fieldset>`; break;
      case "matrix": wrap.innerHTML = matrix(f, value || {}); break;
      case "rules": wrap.innerHTML = `<fieldset><legend>${SK.esc(f.label)}</legend><div class="rules"></div>
        <button type="button" class="small" data-add-rule>+ Add a rule</button></fieldset>`; break;
      default: {
        const type = f.widget === "number" ? "number" : f.widget === "password" ? "password" : f.widget === "email" ? "email" : "text";
        const extra = (f.min !== undefined ? ` min="${f.min}"` : "") + (f.max !== undefined ? ` max="${f.max}"` : "");
        wrap.innerHTML = `<label for="${id}">${SK.esc(f.label)}</label><input id="${id}" type="${type}" value="${SK.esc(value ?? "")}"${req}${extra}
          ${locked ? "readonly" : ""} ${desc} autocomplete="${f.widget === "password" ? "new-password" : "off"}">`;
      }
    }
    wrap.insertAdjacentHTML("beforeend", help(f, id) + errSlot(f.name));
    wrap._field = f;
    if (f.widget === "picker") wrap._value = value || [];
    if (f.widget === "rules") (value || []).forEach(r => addRule(wrap, r));
    return wrap;
  }

  function matrix(f, value) {
    return `<fieldset><legend>${SK.esc(f.label)}</legend><div class="table-box"><table class="matrix"><thead><tr><th scope="col">Area</th>` +
      f.cols.map(c => `<th scope="col">${SK.esc(c.toLowerCase().replace("_", " "))}</th>`).join("") + "</tr></thead><tbody>" +
      f.rows.map(r => `<tr><th scope="row">${SK.esc(r)}</th>` + f.cols.map(c => `<td><input type="checkbox" data-area="${SK.esc(r)}" data-action="${SK.esc(c)}"
        aria-label="${SK.esc(r)}: ${SK.esc(c.toLowerCase().replace("_", " "))}" ${(value[r] || []).includes(c) ? "checked" : ""}></td>`).join("") + "</tr>").join("") +
      "</tbody></table></div></fieldset>";
  }

  function drawPicker(wrap) {
    const f = wrap._field, box = wrap.querySelector(".picks");
    const keep = box.children.length ? $$("input:checked", box).map(i => i.value) : wrap._value;
    let options = (sources[f.source] || []);
    if (f.byTenant) { const t = tenantValue(); options = options.filter(o => o.tenant === t); }
    const values = options.map(o => [o[f.valueKey || "id"], o.name || o[f.valueKey || "id"]]);
    keep.forEach(v => { if (!values.some(([x]) => x === v)) values.push([v, v]); });
    box.innerHTML = values.length ? values.map(([v, l]) => `<label class="check"><input type="checkbox" value="${SK.esc(v)}" ${keep.includes(v) ? "checked" : ""}>
      ${SK.esc(l)}${l !== v ? ` <small class="muted">${SK.esc(v)}</small>` : ""}</label>`).join("")
      : `<p class="muted">None to choose from yet${f.byTenant ? " for this tenant" : ""}.</p>`;
  }
  function tenantValue() { const s = form.querySelector('[data-field="tenant"] select'); return s ? s.value : ""; }

  function addRule(wrap, r) {
    r = r || { name: "", threshold: 1 };
    const box = wrap.querySelector(".rules"), i = box.children.length, ids = [fid(), fid(), fid(), fid(), fid(), fid(), fid()];
    const row = SK.el(`<fieldset class="rule" data-path="rules.${i}"><legend>Rule ${i + 1}</legend>
      <div class="rule-grid">
        <div class="field" data-path="rules.${i}.name"><label for="${ids[0]}">Name</label><input id="${ids[0]}" data-k="name" value="${SK.esc(r.name)}" required>${errSlot(`rules.${i}.name`)}</div>
        <div class="field" data-path="rules.${i}.threshold"><label for="${ids[1]}">At most</label><input id="${ids[1]}" data-k="threshold" type="number" min="0" value="${SK.esc(r.threshold)}" required>${errSlot(`rules.${i}.threshold`)}</div>
        <div class="field" data-path="rules.${i}.distinct"><label for="${ids[2]}">Counting</label><select id="${ids[2]}" data-k="counts">
          <option value="streams" ${r.distinct ? "" : "selected"}>streams</option><option value="distinct" ${r.distinct ? "selected" : ""}>distinct devices (values of an attribute)</option></select>
          <label for="${ids[3]}" class="distinct-label">Attribute</label><input id="${ids[3]}" data-k="distinct" value="${SK.esc(r.distinct || "deviceId")}">${errSlot(`rules.${i}.distinct`)}</div>
        <div class="field" data-path="rules.${i}.scope"><label for="${ids[4]}">Counted separately per</label><input id="${ids[4]}" data-k="scope" value="${SK.esc((r.scope || []).join(", "))}" placeholder="e.g. channel (empty: in all)">${errSlot(`rules.${i}.scope`)}</div>
        <div class="field" data-path="rules.${i}.condition"><label for="${ids[5]}">Only streams where</label><input id="${ids[5]}" data-k="condition" value="${SK.esc(r.condition || "")}" placeholder="e.g. contentType = live (empty: all)">${errSlot(`rules.${i}.condition`)}</div>
        <div class="field" data-path="rules.${i}.conflict"><label for="${ids[6]}">Over the limit</label><select id="${ids[6]}" data-k="conflict">
          <option value="LIFO" ${r.conflict === "FIFO" ? "" : "selected"}>refuse the new stream (LIFO)</option>
          <option value="FIFO" ${r.conflict === "FIFO" ? "selected" : ""}>stop the oldest stream (FIFO)</option></select>${errSlot(`rules.${i}.conflict`)}</div>
      </div>
      <p class="rule-sentence" aria-live="polite"></p>${errSlot(`rules.${i}`)}
      <button type="button" class="small danger" data-remove-rule>Remove rule ${i + 1}</button></fieldset>`);
    box.appendChild(row);
    const update = () => {
      const v = readRule(row);
      row.querySelector('[data-k="distinct"]').hidden = row.querySelector(".distinct-label").hidden = !v.distinct;
      row.querySelector(".rule-sentence").textContent = "Means: " + ruleSentence(v) + ".";
    };
    row.addEventListener("input", update); row.addEventListener("change", update); update();
  }
  function readRule(row) {
    const v = k => row.querySelector(`[data-k="${k}"]`).value;
    const rule = { name: v("name").trim(), threshold: v("threshold") === "" ? null : Number(v("threshold")), conflict: v("conflict") };
    const scope = v("scope").split(",").map(x => x.trim()).filter(Boolean);
    if (scope.length) rule.scope = scope;
    if (v("condition").trim()) rule.condition = v("condition").trim();
    if (v("counts") === "distinct") rule.distinct = v("distinct").trim();
    return rule;
  }
  function renumberRules(wrap) {
    $$(".rule", wrap).forEach((row, i) => {   // keep the error paths in step with the body's indexes
      row.dataset.path = `rules.${i}`; row.querySelector("legend").textContent = `Rule ${i + 1}`;
      row.querySelector("[data-remove-rule]").textContent = `Remove rule ${i + 1}`;
      $$(".field", row).forEach(el => { el.dataset.path = el.dataset.path.replace(/^rules\.\d+/, `rules.${i}`); });
      $$("[data-error-for]", row).forEach(el => { el.dataset.errorFor = el.dataset.errorFor.replace(/^rules\.\d+/, `rules.${i}`); });
    });
  }

  function visible(wrap) {
    const cond = wrap._field.showIf; if (!cond) return true;
    return Object.entries(cond).every(([name, want]) => {
      const el = form.querySelector(`[data-field="${name}"] select, [data-field="${name}"] input`);
      const v = el ? el.value : "";
      return Array.isArray(want) ? want.includes(v) : v === want;
    });
  }
  function refreshDependents() {
    $$(".field[data-field]", form).forEach(w => { if (w._field.showIf) w.hidden = !visible(w); });
    $$(".field[data-field]", form).forEach(w => { if (w._field.byTenant) drawPicker(w); });
  }

  function read() {
    const body = {};
    $$(".field[data-field]", form).forEach(w => {
      const f = w._field;
      if (w.hidden || (f.createOnly && editing)) return;
      let v;
      switch (f.widget) {
        case "checkbox": v = w.querySelector("input").checked; break;
        case "picker": v = $$(".picks input:checked", w).map(i => i.value); break;
        case "tags": v = w.querySelector("input").value.split(",").map(x => x.trim()).filter(Boolean); break;
        case "matrix": v = {}; $$("input:checked", w).forEach(i => { (v[i.dataset.area] = v[i.dataset.area] || []).push(i.dataset.action); }); break;
        case "rules": v = $$(".rule", w).map(readRule); break;
        case "number": { const t = w.querySelector("input").value; v = t === "" ? null : Number(t); break; }
        default: v = w.querySelector("input, select, textarea").value;
      }
      if (f.omitEmpty && v === "") return;
      body[f.name] = v;
    });
    return body;
  }

  function open(object) {
    editing = object; clearErrors();
    const creating = !object;
    document.getElementById("editor-title").textContent = creating ? `New ${spec.singular}`
      : `Edit ${spec.singular} \u201c${object[spec.label] || object[spec.key]}\u201d`;
    form.innerHTML = "";
    spec.fields.forEach(f => {
      const value = creating ? (f.default !== undefined ? JSON.parse(JSON.stringify(f.default)) : (f.widget === "select" && f.source === "tenants" && sources.tenants && sources.tenants[0] ? sources.tenants[0].id : undefined))
        : object[f.name];
      form.appendChild(field(f, value, creating));
    });
    $$(".field[data-field]", form).forEach(w => { if (w._field.widget === "picker") drawPicker(w); });
    refreshDependents();
    editor.hidden = false;
    const first = form.querySelector("input:not([readonly]), select, textarea"); if (first) first.focus();
    editor.scrollIntoView({ block: "nearest" });
  }
  form.addEventListener("change", ev => { if (ev.target.closest('[data-field="tenant"], [data-field="algorithm"], [data-field="ownerKind"], [data-field="assetKind"]')) refreshDependents(); });
  form.addEventListener("click", ev => {
    const add = ev.target.closest("[data-add-rule]"), rm = ev.target.closest("[data-remove-rule]");
    if (add) { const w = add.closest(".field"); addRule(w); const rows = $$(".rule", w); rows[rows.length - 1].querySelector("input").focus(); }
    if (rm) { const w = rm.closest('.field[data-field="rules"]'); rm.closest(".rule").remove(); renumberRules(w); }
  });
  form.addEventListener("submit", ev => { ev.preventDefault(); save(); });

  // ---- errors next to the field they concern ----
  function clearErrors() {
    general.innerHTML = "";
    $$("[data-error-for]", form).forEach(p => { p.hidden = true; p.textContent = ""; });
    $$("[aria-invalid]", form).forEach(i => i.removeAttribute("aria-invalid"));
  }
  function place(path, message) {
    let p = path;
    while (p) {   // the most precise field that shows this path
      const slot = form.querySelector(`[data-error-for="${CSS.escape(p)}"]`);
      if (slot && !slot.parentElement.closest("[hidden]")) {
        slot.hidden = false; slot.textContent = (slot.textContent ? slot.textContent + "; " : "") + message;
        const input = slot.parentElement.querySelector("input, select, textarea");
        if (input) { input.setAttribute("aria-invalid", "true"); if (slot.id === "") slot.id = fid(); input.setAttribute("aria-describedby", slot.id); }
        return true;
      }
      p = p.includes(".") ? p.slice(0, p.lastIndexOf(".")) : "";
    }
    return false;
  }
  function showError(e) {
    const msg = e.message || String(e), left = [];
    // validation answers name the field: "body.rules.1.threshold: Input should be ...; body.name: ..."
    msg.split("; ").forEach(part => {
      const m = /^body\.([\w.]+): (.*)$/.exec(part);
      if (m && place(m[1], m[2])) return;
      // service answers name a field in words ("unknown tenant 'x'", "id 'x' already exists")
      const named = (/already exists/i.test(part) && spec.fields.find(f => f.createOnly))
        || spec.fields.find(f => new RegExp(`\\b${f.name}\\b`, "i").test(part) && form.querySelector(`[data-error-for="${f.name}"]`));
      if (!m && named && place(named.name, part)) return;
      left.push(m ? m[1] + ": " + m[2] : part);
    });
    if (left.length) general.innerHTML = `<p class="error">${SK.esc(left.join("; "))}</p>`;
    const first = form.querySelector("[aria-invalid]"); if (first) first.focus();
  }

  async function save() {
    clearErrors();
    const body = read();
    try {
      if (editing === null) await SK.api("POST", base, body);
      else await SK.api("PUT", base + "/" + encodeURIComponent(editing[spec.key]), body);
    } catch (e) { showError(e); return; }
    editor.hidden = true; SK.toast("Saved");
    await loadSources().catch(() => {});
    load();
  }
  document.getElementById("save").onclick = save;
  document.getElementById("new").onclick = () => open(null);
  document.getElementById("cancel").onclick = () => { editor.hidden = true; };
  document.querySelector("#objects").addEventListener("click", async ev => {
    const b = ev.target.closest("button"); if (!b) return;
    const o = objects[+(b.dataset.edit || b.dataset.delete)];
    if (b.dataset.edit !== undefined) open(o);
    else if (confirm(`Delete ${spec.singular} \u201c${o[spec.label] || o[spec.key]}\u201d?`)) {
      try { await SK.api("DELETE", base + "/" + encodeURIComponent(o[spec.key])); SK.toast("Deleted"); } catch (e) { SK.toast(e.message); }
      load();
    }
  });
  loadSources().catch(e => SK.toast(e.message)).then(load).catch(e => SK.toast(e.message));
})();
