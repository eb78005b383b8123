// The customer page: draw the sentiment-by-month chart from the figures the page carries.
document.addEventListener("DOMContentLoaded", () => {
  const canvas = document.getElementById("sentiment-chart");
  const source = document.getElementById("sentiment-data");
  if (!canvas || !source || typeof Chart === "undefined") return;
  const data = JSON.parse(source.textContent);
  const series = [
    ["Positive", data.positive, "#047857"],
    ["Neutral", data.neutral, "#94a3b8"],
    ["Negative", data.negative, "#b42318"],
  ];
  new Chart(canvas, {
    type: "bar",
    data: {
      labels: data.labels,
      datasets: series.map(([label, values, color]) => ({ label, data: values, backgroundColor: color })),
    },
    options: {
      animation: false,
      maintainAspectRatio: false,
      scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } },
      plugins: { legend: { position: "bottom" } },
    },
  });
});

// After "Show older", focus moves to the first entry it brought, so keyboard users carry on from there.
document.addEventListener("htmx:afterSettle", () => {
  const first = document.querySelector(".timeline [data-focus-me]");
  if (first) {
    first.removeAttribute("data-focus-me");
    first.focus();
  }
});
