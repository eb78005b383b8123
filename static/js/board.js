// The queue board, live: it listens on the inbox's socket (/ws/inbox/, the same streams and events)
// and, when conversations or counts change, asks the server for the board again, at most once a
// second. The server draws it with the same selector as the page, so nothing here counts or sorts.
(() => {
  let timer = null;
  let last = 0;
  const seen = {}; // stream -> last sequence number

  function status(text) {
    const badge = document.getElementById("live-status");
    if (badge) badge.textContent = text;
  }

  function refresh() {
    if (timer) return;
    const wait = Math.max(0, 1000 - (Date.now() - last));
    timer = setTimeout(() => {
      timer = null;
      last = Date.now();
      const board = document.getElementById("board-queues");
      if (!board || board.contains(document.activeElement) && document.activeElement.matches("select")) {
        return refresh(); // someone is choosing whom to give a conversation to: not under their hand
      }
      htmx.ajax("GET", board.dataset.url, { target: "#board-queues", swap: "outerHTML" });
    }, wait);
  }

  document.addEventListener("htmx:wsOpen", () => {
    status("● Live");
    refresh(); // whatever changed while the socket was down
  });
  document.addEventListener("htmx:wsClose", () => status("○ Reconnecting…"));
  document.addEventListener("htmx:wsBeforeMessage", (event) => {
    event.preventDefault(); // the board is redrawn from the server, not from the event's content
    const box = document.createElement("template");
    box.innerHTML = event.detail.message;
    let changed = false;
    for (const meta of box.content.querySelectorAll("template[data-live]")) {
      const kind = meta.dataset.live;
      if (meta.dataset.stream) {
        const seq = Number(meta.dataset.seq);
        if (meta.dataset.stream in seen && seq !== seen[meta.dataset.stream] + 1) changed = true; // a gap
        seen[meta.dataset.stream] = seq;
      }
      if (kind === "row" || kind === "gone" || kind === "counts") changed = true;
    }
    if (changed) refresh();
  });
})();
