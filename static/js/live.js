// The live inbox: events arrive on /ws/inbox/ (htmx's WebSocket extension, which also reconnects
// with jittered backoff). Each event's <template data-live> envelope says what it is; rows go where
// a reload would put them, a gap in a stream's sequence (or a reconnect that missed events) makes
// the page fetch its list again, and colleagues' presence shows on rows and in the pane.
(() => {
  const last = {}; // stream -> last sequence number seen
  let socket = null;
  let viewing = null;
  let lastTyping = 0;
  let unread = 0;
  const alerted = new Set(); // conversations already announced, so an update does not ring again
  const baseTitle = document.title.replace(/^\(\d+\) /, "");
  const presence = {}; // conversation id -> [{user, name, until, typingUntil}]
  const me = () => document.body.dataset.user || "";
  const list = () => document.getElementById("conversation-list");
  const paneId = () => document.querySelector("#conversation-pane [data-conversation-id]")?.dataset.conversationId;

  let statusText = "○ Connecting…";
  function status(state, text) {
    document.body.dataset.live = state;
    statusText = text;
    showStatus();
  }
  function showStatus() { // again after the queue pane, which holds it, is redrawn
    const badge = document.getElementById("live-status");
    if (badge) badge.textContent = statusText;
  }

  document.addEventListener("htmx:wsOpen", (event) => {
    socket = event.detail.socketWrapper;
    viewing = null;
    status("connected", "● Live");
    announceViewing();
  });
  // What to do is read from the close code (inbox/consumers.py CloseCode; the table in README "Live").
  const SIGNED_OUT = [4401, 4403];
  const REFUSED_FRAME = [4003, 4007, 4009, 4400]; // this page sent what the server never takes: a bug here
  const RETRIED = [1006, 1011, 1012, 1013]; // the extension reconnects after these by itself
  let refusedAt = -Infinity;
  document.addEventListener("htmx:wsClose", (event) => {
    socket = null;
    const code = event.detail.event.code;
    if (SIGNED_OUT.includes(code)) {
      showSignedOut(); // inbox.js
      return status("signed-out", "○ Signed out");
    }
    if (REFUSED_FRAME.includes(code)) {
      // Once: a fresh socket loses nothing (its hello catches up), but the same bug again would only loop.
      if (Date.now() - refusedAt < 5 * 60000) return status("stopped", "○ Live stopped: reload the page");
      refusedAt = Date.now();
    }
    status("reconnecting", "○ Reconnecting…");
    if (!RETRIED.includes(code) && document.contains(event.target)) {
      setTimeout(() => event.detail.socketWrapper.reconnect(), 500 + Math.random() * 2500); // jittered
    }
  });

  document.addEventListener("htmx:wsBeforeMessage", (event) => {
    event.preventDefault(); // placed here, not swapped blindly
    const box = document.createElement("template");
    box.innerHTML = event.detail.message;
    // A frame holds one or more events: each is an envelope followed by its content.
    const nodes = [...box.content.children];
    for (let i = 0; i < nodes.length; ) {
      const meta = nodes[i++];
      if (!meta.matches("template[data-live]")) continue;
      const body = document.createElement("div");
      while (i < nodes.length && !nodes[i].matches("template[data-live]")) body.append(nodes[i++]);
      handle(meta, body);
    }
  });

  function handle(meta, body) {
    const kind = meta.dataset.live;
    if (kind === "hello") return hello(meta.dataset.streams || "");
    if (meta.dataset.stream) checkSequence(meta.dataset.stream, Number(meta.dataset.seq));
    if (kind === "row" && fresh(meta, true)) return placeRow(meta, body.querySelector("li.row"));
    if (kind === "gone" && fresh(meta, false)) return removeRow(meta.dataset.conversation);
    if (kind === "counts") return showCounts(body);
    if (kind === "presence") return showPresence(meta.dataset.conversation, body.querySelectorAll("li"));
    if (kind === "mention") {
      const p = body.querySelector("p");
      return attention(`mention-${meta.dataset.stream}-${meta.dataset.seq}`, "You were mentioned", p?.textContent || "", p?.dataset.url);
    }
  }

  // --- Nothing silently lost ---

  // Each publish has a version, taken before it read the conversation. A row older than one already
  // applied is dropped (two publishes raced); a "gone" of the same publish as a row this page got
  // through another stream is dropped too (the conversation is still visible here).
  const versions = {}; // conversation id -> version last applied
  function fresh(meta, isRow) {
    const id = meta.dataset.conversation;
    const version = Number(meta.dataset.version);
    const last = versions[id] || 0;
    if (isRow ? version < last : version <= last) return false;
    versions[id] = version;
    return true;
  }

  function hello(streams) {
    let missed = false;
    for (const pair of streams.split(" ").filter(Boolean)) {
      const [stream, seq] = pair.split("=");
      if (stream in last && last[stream] !== Number(seq)) missed = true;
      last[stream] = Number(seq);
    }
    if (missed) refetch(); // reconnected after events we never got
  }

  function checkSequence(stream, seq) {
    if (stream in last && seq !== last[stream] + 1) refetch();
    last[stream] = Math.max(seq, last[stream] || 0);
  }

  let refetchTimer = null;
  function refetch() {
    clearTimeout(refetchTimer);
    refetchTimer = setTimeout(() => {
      const section = list();
      if (!section) return;
      htmx.ajax("GET", listUrl(section), { target: "#conversation-list", swap: "outerHTML" });
      htmx.ajax("GET", "/inbox/?queue=" + encodeURIComponent(section.dataset.queue), { target: "#queue-nav", swap: "outerHTML" });
      refreshPane(false);
    }, 150);
  }

  function listUrl(section) {
    const d = section.dataset;
    const params = new URLSearchParams({ queue: d.queue, status: d.status });
    for (const name of ["type", "sentiment", "network", "label", "assignee"]) if (d[name]) params.set(name, d[name]);
    return "/inbox/?" + params;
  }

  // The queue list's counts, pushed by the server (everyone's to the queue, "mine" to me): swapped by id.
  function showCounts(body) {
    for (const count of body.querySelectorAll("[id^='count-']")) document.getElementById(count.id)?.replaceWith(count);
  }

  // --- Rows where a reload would put them ---

  function matches(meta, section) {
    const d = section.dataset;
    const m = meta.dataset;
    if (m.queue !== d.queue) return false;
    const active = m.status === "new" || m.status === "open";
    if (d.status === "active" && !active) return false;
    if (d.status === "mine" && !(active && m.assignee === me())) return false;
    if (!["active", "mine"].includes(d.status) && m.status !== d.status) return false;
    if (d.type && m.type !== d.type) return false;
    if (d.sentiment && m.sentiment !== d.sentiment) return false;
    if (d.network && m.network !== d.network) return false;
    if (d.label && !m.labels.split("|").includes(d.label)) return false;
    if (d.assignee === "none" && m.assignee) return false;
    if (d.assignee && d.assignee !== "none" && m.assignee !== d.assignee) return false;
    return true;
  }

  function comesBefore(a, b, resolvedTab) {
    if (resolvedTab) {
      const [ra, rb] = [Number(a.dataset.resolved), Number(b.dataset.resolved)];
      return ra !== rb ? ra > rb : rowNumber(a) > rowNumber(b);
    }
    const ka = a.dataset.sort.split(" ").map(Number);
    const kb = b.dataset.sort.split(" ").map(Number);
    for (let i = 0; i < 3; i++) if (ka[i] !== kb[i]) return ka[i] < kb[i];
    return false;
  }

  const rowNumber = (li) => Number(li.id.replace("conversation-", ""));

  function placeRow(meta, li) {
    const section = list();
    const id = meta.dataset.conversation;
    const existing = document.getElementById("conversation-" + id);
    if (paneId() === id) refreshPane(true);
    const priority = Number(meta.dataset.priority);
    if (li && !existing && priority >= 2 && meta.dataset.status === "new") { // whatever tab or filter is shown
      const what = priority >= 3 ? "Urgent conversation" : "High-priority conversation";
      const text = `${li.querySelector(".customer-name")?.textContent}: ${li.querySelector(".snippet")?.textContent}`;
      attention(`row-${id}`, what, text, `/inbox/conversations/${id}/`);
    }
    if (!section || !li) return;
    if (!matches(meta, section)) {
      if (existing) existing.remove();
      return;
    }
    const rows = section.querySelector("ol.rows");
    if (!rows) return refetch(); // the list was empty: let the server draw it with its header
    const hadFocus = existing?.contains(document.activeElement);
    if (existing) {
      if (existing.classList.contains("selected")) li.classList.add("selected");
      existing.remove();
    }
    const resolvedTab = section.dataset.status === "resolved";
    const after = [...rows.querySelectorAll(":scope > li.row")].find((row) => comesBefore(li, row, resolvedTab));
    if (!after && section.dataset.more) return markBelow(id); // on a later page, not at the end of this one
    rows.insertBefore(li, after || rows.querySelector(":scope > li.more"));
    htmx.process(li);
    if (hadFocus) li.querySelector("a")?.focus({ preventScroll: true }); // j/k go on from here
    applyPresence(id);
  }

  // Rows that belong further down than this page shows: say how many, by "Show more".
  const below = new Set();
  function markBelow(id) {
    const more = document.getElementById("more-rows");
    if (!more) return;
    below.add(id);
    let tag = more.querySelector(".live-below");
    if (!tag) {
      tag = document.createElement("span");
      tag.className = "live-below muted";
      more.append(tag);
    }
    tag.textContent = ` · ${below.size} new or changed further down`;
  }

  function removeRow(id) { // no longer visible to me: off the list, and the open pane says so
    document.getElementById("conversation-" + id)?.remove();
    if (paneId() === id) refreshPane(false);
  }

  // The open conversation changed: redraw it, unless the agent is writing in it (then say so).
  function refreshPane(polite) {
    const pane = document.querySelector("#conversation-pane [data-conversation-id]");
    if (!pane) return;
    const writing = [...pane.querySelectorAll("textarea")].some((box) => box.value.trim() || box === document.activeElement);
    if (polite && writing) {
      const note = pane.querySelector(".live-changed");
      if (note) note.hidden = false;
      return;
    }
    htmx.ajax("GET", `/inbox/conversations/${pane.dataset.conversationId}/`, { target: "#conversation-pane", swap: "outerHTML" });
  }

  // --- Presence: who is here, who is typing ---

  function send(message) {
    if (socket) socket.send(JSON.stringify(message));
  }

  function announceViewing() {
    const id = paneId();
    if (id && id !== viewing) {
      viewing = id;
      send({ type: "viewing", conversation: id });
    } else if (!id && viewing) {
      send({ type: "left", conversation: viewing });
      viewing = null;
    }
  }

  document.addEventListener("htmx:afterSettle", () => {
    announceViewing();
    applyPresence(paneId());
    showStatus();
    if (!document.querySelector("#more-rows .live-below")) below.clear(); // the list was drawn again
  });
  setInterval(() => { if (viewing) send({ type: "viewing", conversation: viewing }); }, 20000);
  document.addEventListener("htmx:beforeRequest", (event) => { // a reply or note sent: no longer typing
    if (viewing && lastTyping && event.detail.elt.matches?.("#conversation-pane form")) {
      lastTyping = 0;
      send({ type: "stopped", conversation: viewing });
    }
  });
  document.addEventListener("input", (event) => {
    if (event.restoredDraft || !event.target.matches("#conversation-pane textarea[name=text]") || !viewing) return;
    if (Date.now() - lastTyping > 3000) {
      lastTyping = Date.now();
      send({ type: "typing", conversation: viewing });
    }
  });

  function showPresence(id, items) {
    presence[id] = [...items].map((li) => ({
      user: li.dataset.user, name: li.textContent, until: Number(li.dataset.until), typingUntil: Number(li.dataset.typingUntil),
    }));
    applyPresence(id);
  }

  function applyPresence(id) {
    if (!id) return;
    const now = Date.now();
    const here = (presence[id] || []).filter((p) => p.until > now && p.user !== me());
    const slot = document.querySelector(`[data-presence="${CSS.escape(id)}"]`);
    if (slot) slot.textContent = here.length ? "Here now: " + here.map((p) => p.name).join(", ") : "";
    const line = document.getElementById("presence-" + id);
    if (line) {
      line.textContent = here.map((p) => p.name + (p.typingUntil > now ? " is typing a reply…" : " is viewing")).join(" · ");
    }
  }
  setInterval(() => Object.keys(presence).forEach(applyPresence), 3000); // names expire by themselves

  // --- Attention: a note in the page, the title badge, a browser notification, a sound ---

  // Once per thing across this person's open tabs: the first tab to hear it rings; the others stay quiet.
  function firstToHear(key) {
    const now = Date.now();
    let heard = {};
    try { heard = JSON.parse(localStorage.getItem("socialcrm-heard") || "{}"); } catch (error) { /* start afresh */ }
    for (const [k, at] of Object.entries(heard)) if (now - at > 600000) delete heard[k];
    const first = !(key in heard);
    heard[key] = now;
    localStorage.setItem("socialcrm-heard", JSON.stringify(heard));
    return first;
  }

  function attention(key, title, text, url) {
    if (alerted.has(key)) return; // an update of something already announced
    alerted.add(key);
    note(title, text, url);
    if (document.hidden || !document.hasFocus()) { // another tab or another application
      unread += 1;
      document.title = `(${unread}) ${baseTitle}`;
    }
    if (!firstToHear(key)) return;
    if ("Notification" in window && Notification.permission === "granted" && (document.hidden || !document.hasFocus() || key.startsWith("mention"))) {
      const shown = new Notification(title, { body: text.slice(0, 140), tag: key });
      shown.onclick = () => { window.focus(); if (url) location.href = url; shown.close(); };
    }
    if (localStorage.getItem("socialcrm-sound") !== "off") beep();
  }

  // In the page too, for an agent who allows no notifications and no sound: a short list that stays until read.
  function note(title, text, url) {
    const box = document.getElementById("live-notes");
    if (!box) return;
    const item = document.createElement("li");
    const link = document.createElement(url ? "a" : "span");
    if (url) link.href = url;
    link.textContent = `${title}: ${text}`.slice(0, 160);
    const close = document.createElement("button");
    close.type = "button";
    close.className = "small";
    close.textContent = "×";
    close.setAttribute("aria-label", "Dismiss");
    close.addEventListener("click", () => item.remove());
    item.append(link, " ", close);
    box.prepend(item);
    while (box.children.length > 5) box.lastElementChild.remove();
  }

  let audio = null; // one for the page; browsers allow it to sound once the agent has used the page
  function beep() {
    try {
      audio = audio || new AudioContext();
      if (audio.state === "suspended") return; // not yet allowed: the badge and the note still tell
      const tone = audio.createOscillator();
      const volume = audio.createGain();
      volume.gain.value = 0.05;
      tone.frequency.value = 880;
      tone.connect(volume).connect(audio.destination);
      tone.start();
      tone.stop(audio.currentTime + 0.15);
    } catch (error) { /* no audio: the badge and the notification still tell */ }
  }
  for (const kind of ["pointerdown", "keydown"]) {
    document.addEventListener(kind, () => { if (audio?.state === "suspended") audio.resume(); });
  }

  window.addEventListener("focus", () => { unread = 0; document.title = baseTitle; });

  document.addEventListener("change", (event) => {
    if (event.target.id === "sound-toggle") localStorage.setItem("socialcrm-sound", event.target.checked ? "on" : "off");
  });
  document.addEventListener("click", (event) => {
    if (event.target.id === "notify-me" && "Notification" in window) {
      Notification.requestPermission().then((answer) => { event.target.hidden = answer === "granted"; });
    }
  });
  document.addEventListener("DOMContentLoaded", () => {
    const toggle = document.getElementById("sound-toggle");
    if (toggle) toggle.checked = localStorage.getItem("socialcrm-sound") !== "off";
    const notify = document.getElementById("notify-me");
    if (notify && (!("Notification" in window) || Notification.permission === "granted")) notify.hidden = true;
  });
})();
