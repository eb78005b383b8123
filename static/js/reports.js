// The reports: draw each chart from the figures its page carries (the table beside it has the same
// figures). A bar that stands for conversations opens them in the inbox when clicked.
(() => {
  const palette = ["#2563eb", "#047857", "#b45309", "#7c3aed", "#be123c", "#0e7490", "#4d7c0f", "#64748b"];

  function duration(seconds) {
    if (seconds === null || seconds === undefined) return "—";
    if (seconds < 60) return `${Math.round(seconds)}s`;
    const minutes = Math.round(seconds / 60);
    if (minutes < 60) return `${minutes}m`;
    const hours = Math.floor(minutes / 60);
    if (hours < 24) return minutes % 60 ? `${hours}h ${minutes % 60}m` : `${hours}h`;
    const days = Math.floor(hours / 24);
    return hours % 24 ? `${days}d ${hours % 24}h` : `${days}d`;
  }

  function formatter(unit) {
    if (unit === "seconds") return duration;
    if (unit === "share") return (value) => (value === null ? "—" : `${Math.round(value * 100)}%`);
    return (value) => (value === null ? "—" : Number(value).toLocaleString());
  }

  function draw(canvas) {
    const source = document.getElementById(canvas.dataset.chart);
    if (!source) return;
    const spec = JSON.parse(source.textContent);
    const format = formatter(spec.unit);
    const stacked = Boolean(spec.stacked);
    const value = {
      beginAtZero: true,
      stacked,
      ticks: { callback: (v) => format(v), precision: spec.unit === "count" ? 0 : undefined },
      ...(spec.unit === "share" ? { max: 1 } : {}),
    };
    const category = { stacked, ticks: { autoSkip: true, maxRotation: 0 } };
    const chart = new Chart(canvas, {
      type: spec.kind,
      data: {
        labels: spec.labels,
        datasets: spec.datasets.map((dataset, i) => ({
          label: dataset.label,
          data: dataset.data,
          backgroundColor: palette[i % palette.length],
          borderColor: palette[i % palette.length],
          borderWidth: spec.kind === "line" ? 2 : 0,
          pointRadius: spec.kind === "line" ? 2 : 0,
          spanGaps: true,
        })),
      },
      options: {
        animation: false,
        maintainAspectRatio: false,
        indexAxis: spec.horizontal ? "y" : "x",
        scales: spec.horizontal ? { x: value, y: category } : { x: category, y: value },
        plugins: {
          legend: { position: "bottom", display: spec.datasets.length > 1 },
          tooltip: {
            callbacks: {
              label: (item) => `${item.dataset.label}: ${format(item.raw)}`,
              footer: () => (spec.links ? "Click to see the conversations" : ""),
            },
          },
        },
        onHover: (event, elements) => {
          canvas.style.cursor = linkOf(spec, elements) ? "pointer" : "default";
        },
        onClick: (event, elements) => {
          const link = linkOf(spec, elements);
          if (link) window.location.assign(link);
        },
      },
    });
    return chart;
  }

  function linkOf(spec, elements) {
    if (!spec.links || !elements.length) return "";
    const { datasetIndex, index } = elements[0];
    return (spec.links[datasetIndex] || [])[index] || "";
  }

  document.addEventListener("DOMContentLoaded", () => {
    if (typeof Chart === "undefined") return;
    document.querySelectorAll("canvas[data-chart]").forEach(draw);
  });
})();
