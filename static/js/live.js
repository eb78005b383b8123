// The live inbox: events arrive on /ws/inbox/ (htmx's WebSocket extension, which also reconnects
// with jittered backoff). Each event's <template data-live> envelope says what it is; the server says
// where a changed row goes, a gap in a stream's sequence (or a reconnect that missed events) makes the
// page fetch its list again, and colleagues' presence shows on rows and in the pane.
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
    if (kind === "row" && fresh(meta, true)) return onRow(meta, body.querySelector("li.row"));
    if (kind === "gone" && fresh(meta, false)) return removeRow(meta.dataset.conversation);
    if (kind === "counts") return showCounts(body);
    if (kind === "presence") return showPresence(meta.dataset.conversation, body.querySelectorAll("li"));
    if (kind === "mention") {
      const p = body.querySelector("p");
      return attention(`mention-${meta.dataset.stream}-${meta.dataset.seq}`, "You were mentioned", p?.textContent || "", p?.dataset.url);
    }
    if (kind === "sla") {
      const p = body.querySelector("p");
      return attention(`sla-${meta.dataset.stream}-${meta.dataset.seq}`, p?.dataset.title || "SLA", p?.textContent || "", p?.dataset.url);
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
      showList(section);
      htmx.ajax("GET", section.dataset.navUrl, { target: "#queue-nav", swap: "outerHTML" });
      refreshPane(false);
    }, 150);
  }

  // The queue list's counts, pushed by the server (everyone's to the queue, "mine" to me): swapped by id.
  function showCounts(body) {
    for (const count of body.querySelectorAll("[id^='count-']")) document.getElementById(count.id)?.replaceWith(count);
  }

  function showList(section) { // the server's list as a reload would draw it
    return htmx.ajax("GET", section.dataset.url, { target: "#conversation-list", swap: "outerHTML" });
  }

  // --- Rows: the server says where they go ---

  // A pushed row says a conversation changed; which list it belongs to, and where, only the list's own
  // query knows. The page asks the server about the conversations changed in the last moment (one
  // request for a burst) and gets rows to redraw in place, ids further down, ids that left this list.
  // Rows change in place and never jump under the agent's pointer; new ones wait behind "N new — show".
  const changed = new Set();
  let placeTimer = null;
  function onRow(meta, li) {
    const id = meta.dataset.conversation;
    if (paneId() === id) refreshPane(true);
    const priority = Number(meta.dataset.priority);
    if (li && !document.getElementById("conversation-" + id) && priority >= 2 && meta.dataset.status === "new") {
      const what = priority >= 3 ? "Urgent conversation" : "High-priority conversation"; // whatever the page shows
      const text = `${li.querySelector(".customer-name")?.textContent}: ${li.querySelector(".snippet")?.textContent}`;
      attention(`row-${id}`, what, text, li.querySelector("a")?.getAttribute("hx-get"));
    }
    changed.add(id);
    if (!placeTimer) placeTimer = setTimeout(askPlacement, 200);
  }

  function askPlacement() {
    placeTimer = null;
    const section = list();
    const ids = [...changed].slice(0, 100); // the server takes 100 at a time; the rest ask next
    ids.forEach((id) => changed.delete(id));
    if (changed.size) placeTimer = setTimeout(askPlacement, 200);
    if (!section?.dataset.placementUrl || !ids.length) return;
    const cursor = document.getElementById("more-rows")?.dataset.cursor;
    const url = `${section.dataset.placementUrl}&ids=${ids.join(",")}` + (cursor ? `&until=${encodeURIComponent(cursor)}` : "");
    fetch(url, { credentials: "same-origin", headers: { "HX-Request": "true" } })
      .then((response) => (response.ok ? response.text() : Promise.reject(response.status)))
      .then((html) => { if (document.contains(section)) place(section, html); }) // else the list was drawn afresh
      .catch(() => refetch());
  }

  const arrived = new Set(); // rows of this list the page does not show yet
  function place(section, html) {
    const box = document.createElement("template");
    box.innerHTML = html;
    const rows = section.querySelector("ol.rows");
    for (const li of box.content.querySelectorAll("li.row")) {
      const existing = document.getElementById(li.id);
      if (existing) replaceRow(existing, li);
      else if (!rows) return showList(section); // the list was empty: nothing to jump, draw it now
      else arrived.add(li.id);
    }
    for (const below of box.content.querySelectorAll("template[data-below]")) {
      const id = below.dataset.below;
      document.getElementById("conversation-" + id)?.remove(); // moved further down than this page
      arrived.delete("conversation-" + id);
      markBelow(id);
    }
    for (const gone of box.content.querySelectorAll("template[data-gone]")) {
      document.getElementById("conversation-" + gone.dataset.gone)?.remove();
      arrived.delete("conversation-" + gone.dataset.gone);
    }
    showArrived(section);
  }

  function replaceRow(existing, li) {
    const hadFocus = existing.contains(document.activeElement);
    if (existing.classList.contains("selected")) {
      li.classList.add("selected");
      li.querySelector("a")?.setAttribute("aria-current", "true");
    }
    const pick = li.querySelector("input.pick");
    if (pick) pick.checked = Boolean(existing.querySelector("input.pick")?.checked); // a bulk choice stays
    existing.replaceWith(li);
    htmx.process(li);
    if (hadFocus) li.querySelector("a")?.focus({ preventScroll: true }); // j/k go on from here
    applyPresence(li.id.replace("conversation-", ""));
  }

  function showArrived(section) {
    const banner = section.querySelector("#live-new");
    if (!banner) return;
    banner.hidden = arrived.size === 0;
    banner.querySelector("button").textContent = `${arrived.size} new — show`;
  }
  document.addEventListener("click", (event) => {
    if (!event.target.matches("#live-new button")) return;
    showList(list()).then(() => list()?.querySelector("li.row a")?.focus({ preventScroll: true }));
  });

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
    if (arrived.delete("conversation-" + id) && list()) showArrived(list());
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
    htmx.ajax("GET", pane.dataset.url, { target: "#conversation-pane", swap: "outerHTML" });
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
    if (list()?.querySelector("#live-new[hidden]")) arrived.clear();
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
    if ("Notification" in window && Notification.permission === "granted" && (document.hidden || !document.hasFocus() || key.startsWith("mention") || key.startsWith("sla"))) {
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

  // --- Time to breach: counted down in the page (the text inbox_tags.to_breach draws) ---
  function toBreach(seconds) {
    const left = Math.abs(seconds);
    if (left < 60) return seconds >= 0 ? "due now" : "just over";
    let amount;
    if (left < 3600) amount = `${Math.floor(left / 60)} min`;
    else if (left < 86400) amount = `${Math.floor(left / 3600)} h` + (left % 3600 >= 60 ? ` ${Math.floor((left % 3600) / 60)} min` : "");
    else amount = `${Math.floor(left / 86400)} d` + (left % 86400 >= 3600 ? ` ${Math.floor((left % 86400) / 3600)} h` : "");
    return seconds >= 0 ? `${amount} left` : `${amount} over`;
  }
  function tickDue() {
    const now = Date.now();
    for (const due of document.querySelectorAll("[data-due]")) {
      const seconds = (Date.parse(due.dataset.due) - now) / 1000;
      if (Number.isNaN(seconds)) continue;
      due.textContent = toBreach(seconds);
      const state = seconds < 0 ? "breached" : seconds <= 900 ? "due_soon" : "running";
      due.classList.remove("due-breached", "due-due_soon", "due-running");
      due.classList.add(`due-${state}`);
    }
  }
  setInterval(tickDue, 30000);
})();
