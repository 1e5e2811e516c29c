// The timeline of one order (or any correlation id): every message of it in the audit trail,
// as `cryptoorch trace` prints it.
import { api, ApiError, el, time } from "./api.js";

const panel = () => document.getElementById("timeline");

export async function openTimeline(correlationId) {
  const section = panel();
  const body = section.querySelector("tbody");
  const note = document.getElementById("timeline-note");
  document.getElementById("timeline-title").textContent = `Timeline of ${correlationId}`;
  section.hidden = false;
  body.replaceChildren();
  note.textContent = "loading…";
  try {
    const data = await api(`/v1/admin/orders/${encodeURIComponent(correlationId)}/timeline`);
    note.textContent = `${data.items.length} messages, causes before effects`;
    body.replaceChildren(
      ...data.items.map((entry) =>
        el(
          "tr",
          { class: entry.decision === "rejected" ? "rejected" : null },
          el("td", {}, entry.seq),
          el("td", {}, time(entry.occurred_at)),
          el("td", {}, entry.producer),
          el("td", { class: `depth-${Math.min(entry.depth, 6)}` }, entry.type),
          el("td", {}, entry.decision ?? ""),
          el("td", {}, entry.reason ?? ""),
          el("td", {}, entry.detail ?? ""),
        ),
      ),
    );
    section.scrollIntoView({ block: "nearest" });
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    note.textContent = error.status === 404 ? "The audit trail has no message of it yet." : error.message;
  }
}
