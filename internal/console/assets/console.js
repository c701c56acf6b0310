// The simulator's console: applies the batches of /console/stream to the
// page, row by row, and drives the platform through the control interface.
// Every value from the platform is set as text, never as HTML.
"use strict";
(function () {
  const AC = document.body.dataset.accountcode;
  const MAX_ROWS = 300;
  const $ = (id) => document.getElementById(id);
  const state = { agents: new Map(), calls: new Map(), queues: new Map(), sms: new Map(), callbacks: new Map() };
  const rows = { agents: new Map(), calls: new Map(), queues: new Map(), sms: new Map(), callbacks: new Map() };
  const onCall = new Map(); // agent key -> calls
  let skew = 0; // server clock minus ours, ms
  let pending = [];
  let lastStats = null;
  let rate = 0;
  const missed = { events: 0, requests: 0 }; // what the stream could not bring this page

  // ---- helpers ----
  function el(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") e.className = v;
      else if (k === "text") e.textContent = v;
      else if (k.startsWith("data-")) e.setAttribute(k, v);
      else e[k] = v;
    }
    for (const k of kids) if (k != null) e.append(k);
    return e;
  }
  const badge = (text, cls) => el("span", { class: "badge " + (cls || ""), text });
  const btn = (text, act, cls) => el("button", { class: "btn xs " + (cls || ""), type: "button", text, "data-act": act });
  const short = (key) => (key.startsWith(AC + "_") ? key.slice(AC.length + 1) : key);
  const hms = (ms) => new Date(ms).toLocaleTimeString([], { hour12: false }) + "." + String(ms % 1000).padStart(3, "0");
  function dur(ms) {
    const s = Math.max(0, Math.floor(ms / 1000));
    const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
    return (h ? h + ":" + String(m).padStart(2, "0") : m) + ":" + String(r).padStart(2, "0");
  }
  function toast(msg, err) {
    const t = el("div", { class: "toast" + (err ? " err" : ""), text: msg });
    $("toasts").append(t);
    setTimeout(() => t.remove(), err ? 6000 : 2500);
  }

  // api posts body as JSON to a control endpoint; a refusal becomes a toast.
  async function api(path, body) {
    try {
      const r = await fetch(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body || {}) });
      const out = await r.json().catch(() => ({}));
      if (!r.ok) {
        toast((out.code_name ? out.code_name + ": " : "") + (out.error || r.status), true);
        return null;
      }
      return out;
    } catch (e) {
      toast(String(e), true);
      return null;
    }
  }

  // ---- rows ----
  function agentState(a) {
    const calls = onCall.get(a.key) || 0;
    if (a.status === "LOGOFF") return badge("logged off");
    if (calls) return badge("on a call" + (calls > 1 ? " ×" + calls : ""), "call");
    if (a.status === "PAUSE") return badge("paused" + (a.pause ? ": " + a.pause : ""), "warn");
    return badge("logged in", "ok");
  }
  function agentRow(a) {
    const tr = el("tr", { "data-key": a.key });
    const acts = el("td", { class: "act" },
      btn("Inbound call", "inbound", "green"),
      a.status === "PAUSE" ? btn("Unpause", "unpause") : btn("Pause", "pause"),
      a.status === "LOGOFF" ? btn("Log in", "login") : btn("Log off", "logoff"));
    if (a.status === "LOGOFF") acts.firstChild.disabled = acts.children[1].disabled = true;
    tr.append(el("td", { class: "mono", text: short(a.key) }), el("td", { text: a.name || "", class: "dim" }),
      el("td", {}, agentState(a)), el("td", { class: "dim", text: a.queues.join(" ") }), acts);
    if (a.lines === 0) tr.title = "no lines: this agent can neither take nor place a call";
    return tr;
  }
  function callRow(c) {
    const tr = el("tr", { "data-key": c.key, "data-agent": c.agent });
    const acts = el("td", { class: "act" });
    if (!c.answered) acts.append(btn("Answer", "answer", "green"));
    acts.append(btn("Transfer", "transfer"), btn("Hang up", "hangup", "red"));
    tr.append(el("td", { class: "mono", text: short(c.agent) }),
      el("td", {}, badge(c.direction === "INBOUND" ? "in" : "out", c.direction === "INBOUND" ? "info" : "call")),
      el("td", { class: "mono", text: c.callerid }),
      el("td", {}, c.answered ? badge("talking", "ok") : badge("ringing", "warn")),
      el("td", { class: "num mono", text: dur(Date.now() + skew - c.started), "data-started": c.started }),
      el("td", { class: "mono dim", text: c.uniqueid + (c.peer ? " ↔ " + c.peer : "") }), acts);
    return tr;
  }
  function queueRow(q) {
    return el("tr", { "data-key": q.key }, el("td", { class: "mono", text: short(q.key) }),
      el("td", { class: "dim wrap", text: q.members.join(" ") || "no members" }),
      el("td", { class: "act" }, btn("Inbound call", "queuecall", "green")));
  }
  const smsRow = (m) => el("tr", {}, el("td", { class: "mono", text: m.number }), el("td", { class: "wrap", text: m.text }));
  const cbRow = (c) => el("tr", {}, el("td", { class: "mono", text: c.originator }), el("td", { text: c.ruleid }),
    el("td", { text: c.queue_id || "" }), el("td", { text: c.language || "" }));

  const typeClass = { LOGIN: "ok", LOGOUT: "", PAUSE: "warn", UNPAUSE: "ok", NEWCALL: "info", CONNECT: "ok", DNEWCALL: "info", DCONNECT: "ok", HANGUP: "bad" };
  function eventRow(e) {
    const details = [e.direction, e.callerid && "callerid " + e.callerid, e.reason].filter(Boolean).join(" · ");
    const tr = el("tr", { "data-type": e.type, "data-agent": e.agent || "", title: e.body },
      el("td", { class: "mono dim", text: hms(e.time) }), el("td", { class: "mono", text: e.agent ? short(e.agent) : e.topic }),
      el("td", {}, badge(e.type || "?", typeClass[e.type])), el("td", { text: details || (e.raw ? e.body : "") }),
      el("td", { class: "mono dim", text: e.uniqueid || "" }));
    return tr;
  }
  // lenientMark marks a request the platform's reference does not describe
  // (the simulator accepted it leniently); null for the others.
  function lenientMark(r) {
    if (!r.lenient || !r.lenient.length) return null;
    const b = badge("lenient", "warn");
    b.classList.add("lenient");
    b.title = "accepted leniently: " + r.lenient.join("; ");
    return b;
  }
  function requestRow(r) {
    const ok = r.code === 0;
    const tr = el("tr", { "data-method": r.method, "data-transport": r.transport, "data-code": r.code },
      el("td", { class: "mono dim", text: hms(r.time) }), el("td", {}, badge(r.transport === "soap" ? "SOAP" : "STOMP", r.transport === "soap" ? "call" : "info")),
      el("td", { text: r.method || "(unreadable)" }), el("td", {}, badge(ok ? "OK" : r.code_name, ok ? "ok" : "bad"), lenientMark(r)),
      el("td", { class: "args", text: JSON.stringify(r.args) }));
    tr._req = r;
    return tr;
  }

  // ---- applying batches ----
  function upsertTable(kind, change, make, tbody, sortNew) {
    if (!change) return;
    for (const key of change.delete || []) {
      state[kind].delete(key);
      const tr = rows[kind].get(key);
      if (tr) tr.remove();
      rows[kind].delete(key);
    }
    const added = [];
    for (const v of change.upsert || []) {
      const old = rows[kind].get(v.key);
      state[kind].set(v.key, v);
      const tr = make(v);
      rows[kind].set(v.key, tr);
      if (old) old.replaceWith(tr);
      else added.push(v);
    }
    if (sortNew) added.sort(sortNew);
    for (const v of added) tbody.append(rows[kind].get(v.key));
  }
  const byNumber = (a, b) => a.accountcode.localeCompare(b.accountcode) || (Number(a.user ?? a.name) - Number(b.user ?? b.name)) || String(a.key).localeCompare(String(b.key));

  function apply(b) {
    if (b.full && !b.resumed) {
      for (const k of Object.keys(state)) { state[k].clear(); rows[k].clear(); }
      for (const id of ["agents", "calls", "queues", "sms", "callbacks", "events", "requests"]) $(id).tBodies[0].replaceChildren();
      evStream.list = [];
      rqStream.list = [];
      $("request-detail").hidden = true;
    } else if (b.full) { // resumed: the tables are replaced, the lists kept
      for (const k of Object.keys(state)) { state[k].clear(); rows[k].clear(); }
      for (const id of ["agents", "calls", "queues", "sms", "callbacks"]) $(id).tBodies[0].replaceChildren();
    }
    skew = b.now - Date.now();
    // Calls first: an agent's state shows whether it is on one.
    const touched = new Set();
    if (b.calls) {
      for (const key of b.calls.delete || []) { const c = state.calls.get(key); if (c) touched.add(c.agent); }
      for (const c of b.calls.upsert || []) touched.add(c.agent);
    }
    upsertTable("calls", b.calls, callRow, $("calls").tBodies[0], (x, y) => x.started - y.started);
    onCall.clear();
    for (const c of state.calls.values()) onCall.set(c.agent, (onCall.get(c.agent) || 0) + 1);
    upsertTable("agents", b.agents, agentRow, $("agents").tBodies[0], byNumber);
    const changed = new Set((b.agents && b.agents.upsert || []).map((a) => a.key));
    for (const key of touched) {
      const a = state.agents.get(key);
      if (a && !changed.has(key)) { const tr = agentRow(a); rows.agents.get(key).replaceWith(tr); rows.agents.set(key, tr); }
    }
    upsertTable("queues", b.queues, queueRow, $("queues").tBodies[0], byNumber);
    upsertTable("sms", b.sms, smsRow, $("sms").tBodies[0], (x, y) => x.key - y.key);
    upsertTable("callbacks", b.callbacks, cbRow, $("callbacks").tBodies[0], (x, y) => x.key - y.key);
    pushRows(evStream, gapped(b.skipped_events, "events", b), b.events);
    pushRows(rqStream, gapped(b.skipped_requests, "requests", b), b.requests);
    counters(b);
    filterAgents();
  }

  // A stream (events, requests) keeps its last KEEP entries; the table
  // shows the newest MAX_ROWS of those the filter lets through. A gap (what
  // the stream could not bring: the console's buffers overran) is an entry
  // of its own, shown whatever the filter, before the rows that follow it.
  const KEEP = 5000;
  function stream(id, make, visible) {
    return { list: [], tbody: $(id).tBodies[0], make: (x) => (x.gap ? gapRow(x) : make(x)), visible: (x) => !!x.gap || visible(x) };
  }
  function gapped(n, what, b) {
    if (!n) return null;
    missed[what] += n;
    return { gap: n, what, time: b.now };
  }
  function gapRow(g) {
    return el("tr", { class: "gap", "data-gap": g.gap },
      el("td", { class: "mono dim", text: hms(g.time) }),
      el("td", { colSpan: 4, text: "missed " + g.gap.toLocaleString() + " " + g.what + " (the page fell behind the stream)" }));
  }
  function pushRows(st, gap, rows) {
    const list = gap ? [gap].concat(rows || []) : rows;
    if (!list || !list.length) return;
    for (const x of list) st.list.push(x);
    if (st.list.length > KEEP) st.list.splice(0, st.list.length - KEEP);
    const frag = document.createDocumentFragment();
    let n = 0;
    for (let i = list.length - 1; i >= 0 && n < MAX_ROWS; i--) {
      if (!st.visible(list[i])) continue;
      frag.append(st.make(list[i]));
      n++;
    }
    st.tbody.prepend(frag);
    while (st.tbody.rows.length > MAX_ROWS) st.tbody.lastElementChild.remove();
  }
  function rerender(st) {
    const frag = document.createDocumentFragment();
    let n = 0;
    for (let i = st.list.length - 1; i >= 0 && n < MAX_ROWS; i--) {
      if (!st.visible(st.list[i])) continue;
      const tr = st.make(st.list[i]);
      frag.append(tr);
      n++;
    }
    st.tbody.replaceChildren(frag);
  }

  function counters(b) {
    const s = b.stats;
    if (lastStats && b.now > lastStats.now) {
      const r = (s.events - lastStats.events) * 1000 / (b.now - lastStats.now);
      rate = rate ? rate * 0.7 + r * 0.3 : r;
    }
    lastStats = { now: b.now, events: s.events };
    let online = 0;
    for (const a of state.agents.values()) if (a.status !== "LOGOFF") online++;
    $("n-online").textContent = online.toLocaleString();
    $("n-calls").textContent = state.calls.size.toLocaleString();
    $("n-evrate").textContent = Math.round(rate).toLocaleString();
    $("n-events").textContent = s.events.toLocaleString();
    $("n-requests").textContent = s.requests.toLocaleString();
    $("n-lenient").textContent = (s.lenient || 0).toLocaleString();
    $("n-missed").textContent = (missed.events + missed.requests).toLocaleString();
    $("n-drops").textContent = (s.page_drops || 0).toLocaleString();
    $("c-agents").textContent = state.agents.size.toLocaleString();
    $("c-calls").textContent = state.calls.size.toLocaleString();
    $("c-queues").textContent = state.queues.size;
    $("c-sms").textContent = state.sms.size;
    $("c-callbacks").textContent = state.callbacks.size;
    $("c-events").textContent = s.events.toLocaleString();
    $("c-requests").textContent = s.requests.toLocaleString();
    $("calls-empty").hidden = state.calls.size > 0;
  }

  // ---- filters ----
  function eventVisible(e) {
    const agent = $("ev-agent").value.trim(), type = $("ev-type").value;
    return (!type || e.type === type) && (!agent || (e.agent || e.topic || "").includes(agent));
  }
  const requestVisible = (r) => !$("rq-failed").checked || r.code !== 0;
  const evStream = stream("events", eventRow, eventVisible);
  const rqStream = stream("requests", requestRow, requestVisible);
  let agentFilter = "";
  function filterAgents(force) {
    const f = $("agent-search").value.trim().toLowerCase();
    if (!force && f === agentFilter && !f) return;
    agentFilter = f;
    for (const [key, tr] of rows.agents) {
      const a = state.agents.get(key);
      tr.hidden = !!f && !(key.toLowerCase().includes(f) || (a.name || "").toLowerCase().includes(f));
    }
  }
  $("ev-agent").addEventListener("input", () => rerender(evStream));
  $("ev-type").addEventListener("change", () => rerender(evStream));
  $("rq-failed").addEventListener("change", () => rerender(rqStream));
  $("agent-search").addEventListener("input", () => filterAgents(true));

  // ---- actions ----
  const form = (name) => document.querySelector(`form[data-form="${name}"]`);
  const val = (f, n) => f.elements[n].value.trim();
  $("agents").addEventListener("click", (ev) => {
    const b = ev.target.closest("button[data-act]");
    if (!b) return;
    const a = state.agents.get(b.closest("tr").dataset.key);
    const agent = a.user, f = form("inbound");
    switch (b.dataset.act) {
      case "inbound": api("/calls/inbound", { accountcode: a.accountcode, agent, callerid: val(f, "callerid"), outcome: val(f, "outcome") }); break;
      case "pause": api("/agents/pause", { accountcode: a.accountcode, agent, reason: $("pause-reason").value.trim() }); break;
      case "unpause": api("/agents/unpause", { accountcode: a.accountcode, agent }); break;
      case "login": api("/agents/login", { accountcode: a.accountcode, agent }); break;
      case "logoff": api("/agents/logoff", { accountcode: a.accountcode, agent }); break;
    }
  });
  $("queues").addEventListener("click", (ev) => {
    const b = ev.target.closest("button[data-act]");
    if (!b) return;
    const q = state.queues.get(b.closest("tr").dataset.key);
    const free = q.members.map((m) => state.agents.get(q.accountcode + "_" + m))
      .find((a) => a && a.status === "LOGIN" && !onCall.get(a.key));
    if (!free) { toast("Queue " + q.name + ": no member is logged in, unpaused and free", true); return; }
    const f = form("inbound");
    api("/calls/inbound", { accountcode: q.accountcode, queue: q.name, agent: free.user, callerid: val(f, "callerid"), outcome: val(f, "outcome") });
  });
  $("calls").addEventListener("click", (ev) => {
    const b = ev.target.closest("button[data-act]");
    if (!b) return;
    const c = state.calls.get(b.closest("tr").dataset.key);
    switch (b.dataset.act) {
      case "answer": api("/calls/answer", { uniqueid: c.uniqueid }); break;
      case "hangup": api("/calls/hangup", { uniqueid: c.uniqueid, reason: $("hangup-reason").value }); break;
      case "transfer": api("/calls/transfer", { accountcode: c.accountcode, agent: short(c.agent), exten: $("transfer-to").value.trim() }); break;
    }
  });
  $("requests").addEventListener("click", (ev) => {
    const tr = ev.target.closest("tr");
    if (!tr || !tr._req) return;
    for (const s of $("requests").querySelectorAll("tr.sel")) s.classList.remove("sel");
    tr.classList.add("sel");
    showRequest(tr._req);
  });
  function showRequest(r) {
    const d = $("request-detail");
    const ok = r.code === 0;
    const dl = el("dl", {});
    const add = (k, v) => { if (v !== undefined && v !== "") dl.append(el("dt", { text: k }), el("dd", { text: String(v) })); };
    add("received", new Date(r.time).toISOString());
    add("transport", r.transport === "soap" ? "SOAP (IVWS)" : "STOMP");
    add("identifier", r.id);
    add("return code", r.code + " " + r.code_name);
    add("accepted leniently", (r.lenient || []).join("; "));
    d.replaceChildren(
      el("h4", {}, el("span", { text: r.method || "(unreadable request)" }), badge(ok ? "OK" : r.code_name, ok ? "ok" : "bad")),
      dl);
    if (!ok && r.description) d.append(el("p", { class: "desc", text: r.description }));
    d.append(el("pre", { text: JSON.stringify(r.args, null, 2) }));
    d.hidden = false;
  }
  document.querySelector(".toolbar").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const f = ev.target, kind = f.dataset.form;
    let ok = null;
    switch (kind) {
      case "inbound": ok = await api("/calls/inbound", { agent: val(f, "agent"), queue: val(f, "queue"), callerid: val(f, "callerid"), outcome: val(f, "outcome") }); break;
      case "outbound": ok = await api("/calls/outbound", { agent: val(f, "agent"), exten: val(f, "exten"), outcome: val(f, "outcome") }); break;
      case "agentcall": ok = await api("/calls/agent", { from: val(f, "from"), to: val(f, "to"), outcome: val(f, "outcome") }); break;
      case "newcall": ok = await api("/newcall-outcome", { outcome: val(f, "outcome") }); if (ok) toast("NewCall: " + (val(f, "outcome") || "answered")); break;
      case "replies": {
        const m = val(f, "method"), methods = m ? [m] : [];
        if (ev.submitter && ev.submitter.value === "drop") ok = await api("/replies/drop", { count: 1, methods });
        else ok = await api("/replies/delay", { count: 1, methods, delay: val(f, "delay") });
        if (ok) toast("The next reply" + (m ? " to " + m : "") + (ev.submitter && ev.submitter.value === "drop" ? " will be dropped" : " will be delayed " + val(f, "delay")));
        break;
      }
    }
  });
  $("reset").addEventListener("click", () => api("/reset", {}).then((ok) => ok && toast("Reset: back to the seed")));

  // ---- the stream ----
  function schedule(b) {
    if (b.full && !b.resumed) pending = []; // a resumed page keeps the events of the batches before
    pending.push(b);
    if (pending.length === 1) {
      if (document.hidden) setTimeout(flush, 0); // no animation frames in a hidden tab
      else requestAnimationFrame(flush);
    }
  }
  function flush() {
    const list = pending;
    pending = [];
    for (const b of list) apply(b);
  }
  function connect() {
    const es = new EventSource("/console/stream");
    es.onopen = () => { $("live").textContent = "live"; $("live").className = "pill on"; };
    es.onerror = () => { $("live").textContent = "reconnecting"; $("live").className = "pill off"; };
    es.onmessage = (m) => schedule(JSON.parse(m.data));
  }
  setInterval(() => {
    const now = Date.now() + skew;
    for (const td of $("calls").querySelectorAll("td[data-started]")) td.textContent = dur(now - Number(td.dataset.started));
  }, 1000);
  connect();
})();
