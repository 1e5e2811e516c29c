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
  document.getElementById("timeline-venue").replaceChildren();
  note.textContent = "loading…";
  try {
    const data = await api(`/v1/admin/orders/${encodeURIComponent(correlationId)}/timeline`);
    note.textContent = `${data.items.length} messages, causes before effects`;
    showVenue(data);
    body.replaceChildren(
      ...data.items.map((entry) =>
        el(
          "tr",
          { class: entry.decision === "rejected" || entry.decision === "outcome unknown" ? "rejected" : null },
          el("td", {}, entry.seq),
          el("td", {}, time(entry.occurred_at)),
          el("td", {}, entry.producer),
          el("td", { class: `depth-${Math.min(entry.depth, 6)}` }, entry.type),
          el("td", {}, entry.decision ?? ""),
          el("td", {}, entry.reason ?? ""),
          el("td", {}, entry.detail ?? ""),
          el("td", {}, entry.venue_order_id ?? ""),
          el("td", { class: "number" }, entry.sends ?? ""),
        ),
      ),
    );
    section.scrollIntoView({ block: "nearest" });
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    note.textContent = error.status === 404 ? "The audit trail has no message of it yet." : error.message;
  }
}

// A real-money order: the venue's order id, how many times execution sent it, and whether its
// outcome is still unknown (execution is looking it up by client order id).
function showVenue(data) {
  const facts = [];
  if (data.outcome_unknown) facts.push(["Outcome", "outcome unknown: execution is reconciling with the venue"]);
  if (data.venue_order_id) facts.push(["Venue order id", data.venue_order_id]);
  if (data.sends !== null && data.sends !== undefined) facts.push(["Sends", String(data.sends)]);
  document.getElementById("timeline-venue").replaceChildren(...facts.flatMap(([name, value]) => [el("dt", {}, name), el("dd", {}, value)]));
}
