// Keep the list's selection in step with the conversation shown on the right.
document.addEventListener("htmx:afterSwap", (event) => {
  if (event.detail.target.id !== "conversation-pane") return;
  // Opened from the list: focus goes to the conversation, so a screen reader reads it and Tab starts there.
  const from = event.detail.requestConfig && event.detail.requestConfig.elt;
  if (from && from.closest && from.closest("#conversation-list .row")) {
    const title = document.getElementById("conversation-title");
    if (title) title.focus();
  }
  const match = event.detail.pathInfo.requestPath.match(/conversations\/(\d+)\//);
  document.querySelectorAll("#conversation-list .row").forEach((row) => {
    const selected = match !== null && row.id === `conversation-${match[1]}`;
    row.classList.toggle("selected", selected);
    const link = row.querySelector("a");
    if (selected) link.setAttribute("aria-current", "true");
    else link.removeAttribute("aria-current");
  });
});

// A refused action (400: a closed queue, an empty note...) says why, instead of silently doing nothing.
document.addEventListener("htmx:responseError", (event) => {
  let box = document.getElementById("action-error");
  if (!box) {
    box = document.createElement("p");
    box.id = "action-error";
    box.className = "flash flash-error";
    box.setAttribute("role", "alert");
    document.querySelector("main").prepend(box);
  }
  const text = event.detail.xhr.responseText || "";
  box.textContent = event.detail.xhr.status < 500 && text.length < 300 ? text : "That did not work; please try again.";
});
document.addEventListener("htmx:afterRequest", (event) => {
  const box = document.getElementById("action-error");
  if (box && event.detail.successful) box.remove();
});

// The reply box counts down to the network's length limit.
document.addEventListener("input", (event) => {
  const box = event.target;
  if (!box.matches || !box.matches("textarea[data-limit]")) return;
  const counter = document.getElementById(box.getAttribute("aria-describedby"));
  if (counter) counter.textContent = `${Number(box.dataset.limit) - box.value.length} characters left`;
});

// Keyboard: j/k move in the list, Enter opens, and single keys press the buttons marked data-key.
// No modifier keys (so no clash with the browser's shortcuts), and nothing fires while typing.
function rows() {
  return Array.from(document.querySelectorAll("#conversation-list .row a"));
}

function typing(element) {
  return element.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(element.tagName);
}

document.addEventListener("keydown", (event) => {
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  const here = document.activeElement || document.body;
  if (event.key === "Escape" && typing(here)) {
    here.blur();
    return;
  }
  if (typing(here)) return;
  const list = rows();
  if (event.key === "j" || event.key === "k") {
    if (!list.length) return;
    const at = list.indexOf(here.closest ? here.closest("#conversation-list .row a") : null);
    const current = at >= 0 ? at : list.findIndex((link) => link.getAttribute("aria-current") === "true");
    const next = event.key === "j" ? Math.min(current + 1, list.length - 1) : Math.max(current - 1, 0);
    list[current < 0 ? 0 : next].focus();
    event.preventDefault();
    return;
  }
  if (event.key === "?") {
    const help = document.getElementById("keys-help");
    if (help && !help.open) help.showModal();
    event.preventDefault();
    return;
  }
  const target = document.querySelector(`[data-key="${CSS.escape(event.key)}"]`);
  if (!target) return;
  event.preventDefault();
  if (target.tagName === "TEXTAREA" || target.tagName === "SELECT") target.focus();
  else if (target.tagName === "INPUT") target.select();
  else target.click();
});

// A canned reply, already filled in for this customer by the server, goes into the reply box.
document.addEventListener("change", (event) => {
  const select = event.target;
  if (!select.matches || !select.matches("select.canned")) return;
  const option = select.selectedOptions[0];
  const box = document.getElementById(select.dataset.into);
  if (!option || !option.dataset.text || !box) return;
  box.value = option.dataset.text.slice(0, Number(box.dataset.limit) || undefined);
  box.dispatchEvent(new Event("input", { bubbles: true }));
  select.value = "";
  box.focus();
});

// Typing "/shortcut" alone in the reply box and pressing Tab puts in that canned reply.
document.addEventListener("keydown", (event) => {
  const box = event.target;
  if (event.key !== "Tab" || !box.matches || !box.matches("textarea[data-limit]")) return;
  const match = box.value.trim().match(/^\/([\w-]+)$/);
  if (!match) return;
  const select = document.querySelector(`select.canned[data-into="${box.id}"]`);
  const option = select && Array.from(select.options).find((o) => o.value === match[1]);
  if (!option) return;
  event.preventDefault();
  box.value = option.dataset.text.slice(0, Number(box.dataset.limit) || undefined);
  box.dispatchEvent(new Event("input", { bubbles: true }));
});

// Before a response replaces part of the page:
// - 409 from "Send reply": a colleague answered meanwhile; the pane that comes back asks to confirm;
// - answered by the sign-in page (signed out meanwhile): nothing is swapped, the draft stays put;
// - a reply or note accepted: its draft is done with.
document.addEventListener("htmx:beforeSwap", (event) => {
  const { xhr, requestConfig } = event.detail;
  if (xhr.status === 409) {
    event.detail.shouldSwap = true;
    event.detail.isError = false;
  }
  if (xhr.responseURL && new URL(xhr.responseURL).pathname === document.body.dataset.loginUrl) {
    event.detail.shouldSwap = false;
    showSignedOut();
  } else if (requestConfig?.elt?.tagName === "FORM" && xhr.status < 300) {
    requestConfig.elt.querySelectorAll("textarea[name=text]").forEach((box) => sessionStorage.removeItem(draftKey(box)));
  }
});

// Signed out (in another tab, or the password changed): say so plainly, and offer to sign in again.
// Drafts are kept for this tab (below), so they are back once the page is.
function showSignedOut() {
  if (document.getElementById("signed-out")) return;
  const box = document.createElement("p");
  box.id = "signed-out";
  box.className = "flash flash-error";
  box.setAttribute("role", "alert");
  const link = document.createElement("a");
  link.href = `${document.body.dataset.loginUrl}?next=${encodeURIComponent(location.pathname + location.search)}`;
  link.textContent = "Sign in again";
  box.append("You are signed out (here or in another tab, or your password changed); nothing more is sent from this page. ", link, " — your drafts come back with it.");
  document.querySelector("main").prepend(box);
  document.body.classList.add("is-signed-out");
}

// Drafts of replies and notes live in this tab's session storage until they are sent, so a redraw
// of the conversation (a colleague's change, signing in again) does not lose them.
const draftKey = (box) => `draft:${box.form?.getAttribute("hx-post") || box.form?.action}`;
document.addEventListener("input", (event) => {
  const box = event.target;
  if (!box.matches?.("#conversation-pane textarea[name=text]")) return;
  if (box.value.trim()) sessionStorage.setItem(draftKey(box), box.value);
  else sessionStorage.removeItem(draftKey(box));
});
function restoreDrafts() {
  for (const box of document.querySelectorAll("#conversation-pane textarea[name=text]")) {
    const draft = sessionStorage.getItem(draftKey(box));
    if (draft && !box.value) box.value = draft;
    if (box.value) { // a draft put back, or kept by the server (a 409): the counter counts it
      const restored = new Event("input", { bubbles: true }); // not typing (live.js)
      restored.restoredDraft = true;
      box.dispatchEvent(restored);
    }
  }
}
document.addEventListener("htmx:afterSettle", (event) => {
  restoreDrafts();
  if (event.detail.xhr?.status === 409) document.querySelector("#conversation-pane .reply-form textarea")?.focus();
});
document.addEventListener("DOMContentLoaded", restoreDrafts);

// The search redraws the list, its own box included, as you type: what was typed since the request
// went out, and the caret, stay as they were.
let typedSearch = null;
document.addEventListener("htmx:beforeSwap", (event) => {
  const box = document.getElementById("filter-q");
  typedSearch = event.detail.target.id === "conversation-list" && box && document.activeElement === box
    ? { value: box.value, start: box.selectionStart, end: box.selectionEnd }
    : null;
});
document.addEventListener("htmx:afterSwap", () => {
  const box = document.getElementById("filter-q");
  if (!typedSearch || !box) return;
  box.value = typedSearch.value;
  box.focus();
  box.setSelectionRange(typedSearch.start, typedSearch.end);
  typedSearch = null;
});

// Ctrl+Enter (Cmd+Enter on a Mac) sends the reply or note being written: the one key with a
// modifier, and only inside those boxes. An empty box says so, as the Send button would.
document.addEventListener("keydown", (event) => {
  if (event.key !== "Enter" || !(event.ctrlKey || event.metaKey) || event.altKey || event.shiftKey) return;
  const box = event.target;
  if (!box.matches?.("#conversation-pane textarea[name=text]")) return;
  event.preventDefault();
  box.form.requestSubmit();
});

// Bulk: "All shown" ticks every row shown; Apply with nothing ticked, or no action chosen, says so
// beside the button and sends nothing.
document.addEventListener("change", (event) => {
  if (event.target.id !== "pick-all") return;
  for (const box of document.querySelectorAll("#conversation-list .row .pick")) box.checked = event.target.checked;
});
document.addEventListener("submit", (event) => {
  const form = event.target;
  if (form.id !== "bulk-form") return;
  const problem = document.getElementById("bulk-problem");
  const picked = document.querySelector("#conversation-list .row .pick:checked");
  const action = form.elements.namedItem("action");
  const why = !picked ? "Tick the conversations first (or All shown)." : !action.value ? "Choose what to do with them first." : "";
  problem.hidden = !why;
  problem.textContent = why;
  if (!why) return;
  event.preventDefault();
  (picked ? action : document.getElementById("pick-all")).focus();
});

// After Resolve or Snooze, the work moves on: the next conversation in the list opens (or, by the
// person's preference, focus goes back to the list there). After any other action, focus stays
// where it was, or lands on the conversation's title: never on the page itself.
let movingOn = null;
function shownRow() {
  // By the pane's conversation: a row redrawn live has lost its "selected" mark.
  const shown = document.querySelector("#conversation-pane [data-conversation-id]")?.dataset.conversationId;
  return shown ? document.getElementById(`conversation-${shown}`) : null;
}
document.addEventListener("submit", (event) => {
  const form = event.target;
  if (!form.closest?.("#conversation-pane")) return;
  const status = form.matches(".macro-form")
    ? form.elements.namedItem("macro").selectedOptions[0]?.dataset.status // a macro that resolves moves on too
    : event.submitter?.name === "status" ? event.submitter.value : form.elements.namedItem("status")?.value;
  movingOn = null;
  if (status !== "resolved" && status !== "snoozed") return;
  const all = Array.from(document.querySelectorAll("#conversation-list .row"));
  const at = all.indexOf(shownRow());
  const next = at < 0 ? all[0] : all[at + 1] || all[at - 1];
  movingOn = { next: next && next !== shownRow() ? next.id : "" };
});
document.addEventListener("htmx:afterSettle", (event) => {
  if (event.detail.target.id === "conversation-pane" || event.detail.elt?.id === "conversation-pane") {
    const leaving = movingOn;
    movingOn = null;
    if (leaving && event.detail.successful !== false && event.detail.xhr?.status < 300) {
      const link = leaving.next && document.querySelector(`#${CSS.escape(leaving.next)} a`);
      if (link && document.body.dataset.afterDone !== "list") link.click();
      else (link || document.querySelector("#conversation-list .pane-title")).focus();
      return;
    }
  }
  if (document.activeElement && document.activeElement !== document.body) return;
  const fallback = event.detail.target.closest?.("#conversation-list")
    ? document.querySelector("#conversation-list .tabs .current") || document.getElementById("filter-q")
    : document.getElementById("conversation-title");
  fallback?.focus();
});

// A macro chosen from the keyboard (m, arrows) is applied with Enter, as its Apply button would.
document.addEventListener("keydown", (event) => {
  const select = event.target;
  if (event.key !== "Enter" || !select.matches?.("select.macro") || !select.value) return;
  event.preventDefault();
  select.form.requestSubmit();
});
