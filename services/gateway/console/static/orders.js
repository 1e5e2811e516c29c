// The Orders view: every account's newest orders, live over server-sent events
// (GET /v1/admin/orders/stream: the cookie goes with an EventSource to the same origin).
import { el, time } from "./api.js";
import { openTimeline } from "./timeline.js";

const LIMIT = 100;
const orders = new Map();
let source = null;
let filter = {};

export function startOrders(onSignedOut) {
  const form = document.getElementById("order-filter");
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const values = Object.fromEntries(new FormData(form));
    filter = Object.fromEntries(Object.entries(values).filter(([, v]) => String(v).trim() !== ""));
    connect(onSignedOut);
  });
  connect(onSignedOut);
}

export function stopOrders() {
  if (source) source.close();
  source = null;
  orders.clear();
}

function connect(onSignedOut) {
  if (source) source.close();
  orders.clear();
  render();
  const live = document.getElementById("orders-live");
  live.textContent = "connecting…";
  const query = new URLSearchParams({ ...filter, limit: String(LIMIT) });
  source = new EventSource(`/v1/admin/orders/stream?${query}`);
  source.addEventListener("order", (event) => {
    const order = JSON.parse(event.data);
    orders.set(order.order_id, order);
    render();
  });
  source.addEventListener("ready", () => {
    live.textContent = "live";
  });
  source.addEventListener("error", async () => {
    live.textContent = "reconnecting…";
    // An EventSource does not say why it failed: ask whether the session is still good.
    const response = await fetch("/v1/admin/session", { credentials: "same-origin" }).catch(() => null);
    if (response && response.status === 401) onSignedOut();
  });
}

function matches(order) {
  return Object.entries(filter).every(([name, value]) =>
    name === "account" ? order.account_id === value : order[name] === value,
  );
}

function render() {
  const rows = [...orders.values()]
    .filter(matches)
    .sort((a, b) => (a.created_at < b.created_at ? 1 : a.created_at > b.created_at ? -1 : 0))
    .slice(0, LIMIT);
  const body = document.querySelector("#orders-table tbody");
  body.replaceChildren(
    ...rows.map((order) =>
      el(
        "tr",
        { "data-order-id": order.order_id, class: `status-${order.status}` },
        el("td", {}, el("button", { type: "button", class: "link", onclick: () => openTimeline(order.order_id) }, order.order_id)),
        el("td", {}, order.account_id),
        el("td", {}, order.symbol),
        el("td", {}, order.side),
        el("td", { class: "number" }, order.amount),
        el("td", {}, order.status),
        el("td", {}, order.reject_reason ?? ""),
        el("td", {}, time(order.created_at)),
      ),
    ),
  );
}
