// Keep the list's selection in step with the conversation shown on the right.
document.addEventListener("htmx:afterSwap", (event) => {
  if (event.detail.target.id !== "conversation-pane") return;
  const match = event.detail.pathInfo.requestPath.match(/conversations\/(\d+)\//);
  document.querySelectorAll("#conversation-list .row").forEach((row) => {
    const selected = match !== null && row.id === `conversation-${match[1]}`;
    row.classList.toggle("selected", selected);
    const link = row.querySelector("a");
    if (selected) link.setAttribute("aria-current", "true");
    else link.removeAttribute("aria-current");
  });
});
