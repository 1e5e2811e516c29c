// The Accounts, System and Audit views: pictures from the admin API; an account's kill switch
// is engaged or released from its row.
import { api, ApiError, el, time } from "./api.js";
import { openTimeline } from "./timeline.js";

export async function showAccounts() {
  const [data, restricted] = await Promise.all([api("/v1/admin/accounts"), api("/v1/admin/restrictions")]);
  const restrictions = new Map(restricted.items.filter((r) => r.scope === "account").map((r) => [r.target, r]));
  const body = document.querySelector("#accounts-table tbody");
  body.replaceChildren(
    ...data.items.map((account) =>
      el(
        "tr",
        { class: account.kill_switch?.engaged ? "engaged" : null },
        el("td", {}, account.account_id),
        el("td", {}, account.email),
        el("td", {}, account.role),
        el(
          "td",
          {},
          account.balances.length
            ? el("ul", { class: "plain" }, account.balances.map((b) => el("li", {}, `${b.asset}: ${b.available} / ${b.held}`)))
            : "none",
        ),
        el("td", {}, switchState(account.kill_switch), switchControl(account)),
        el("td", {}, restrictions.has(account.account_id) ? `restricted: ${restrictions.get(account.account_id).reason}` : "none"),
      ),
    ),
  );
}

// Engage (halt) or release the account's own switch from its row, with a reason, through the
// same POST /v1/admin/kill-switch as the Kill switches view.
function switchControl(account) {
  const engaged = Boolean(account.kill_switch?.engaged);
  const action = engaged ? "Release" : "Engage";
  const reason = el("input", { "aria-label": `Reason to ${action.toLowerCase()} the kill switch of ${account.account_id}`, placeholder: "reason", autocomplete: "off" });
  const error = el("span", { class: "error", role: "alert" });
  const button = el(
    "button",
    {
      type: "button",
      onclick: async () => {
        error.textContent = "";
        const why = reason.value.trim();
        if (!why) {
          error.textContent = "A reason is required.";
          return;
        }
        try {
          await api("/v1/admin/kill-switch", {
            method: "POST",
            body: { scope: "account", target: account.account_id, engaged: !engaged, reason: why, mode: account.kill_switch?.mode ?? "halt" },
          });
          await showAccounts();
        } catch (failure) {
          if (failure instanceof ApiError) error.textContent = failure.message;
          else location.reload(); // signed out: the page asks to sign in again
        }
      },
    },
    `${action} kill switch`,
  );
  return el("div", { class: "row-action" }, reason, button, error);
}

function switchState(s) {
  if (!s) return "none";
  return s.engaged ? `engaged (${s.mode}) since ${time(s.changed_at)}: ${s.reason}` : "released";
}

function facts(list, entries) {
  list.replaceChildren(...entries.flatMap(([name, value]) => [el("dt", {}, name), el("dd", {}, value ?? "unknown")]));
}

export async function showSystem() {
  const data = await api("/v1/admin/system");
  facts(document.getElementById("system-facts"), [
    ["Gateway database", data.checks.database],
    ["Broker", data.checks.broker],
    ["Broker addresses", data.kafka_bootstrap_servers],
    ["Database server", data.database],
    ["Kill switches engaged", String(data.kill_switches_engaged)],
    ["Audit trail", data.audit.readable ? `readable, ${data.audit.head_seq ?? 0} rows` : `unreadable (${data.audit.error})`],
    ["Gateway outbox backlog", data.outbox ? `${data.outbox.backlog} rows${data.outbox.oldest_age_seconds === null ? "" : `, oldest ${data.outbox.oldest_age_seconds.toFixed(1)} s`}` : null],
    ["Broker error", data.broker_error ?? "none"],
  ]);
  const known = (value) => (value === null || value === undefined ? "unknown" : String(value));
  document.querySelector("#services-table tbody").replaceChildren(
    ...data.services.map((s) =>
      el(
        "tr",
        { class: s.state === "up" ? null : "rejected" },
        el("td", {}, s.name),
        el("td", {}, s.state),
        el("td", { class: "number" }, known(s.members)),
        el("td", { class: "number" }, known(s.consumer_lag)),
        el("td", { class: "number" }, known(s.consumer_lag_seconds)),
        el("td", {}, s.consumer_group),
      ),
    ),
  );
}

export async function showAudit() {
  const data = await api("/v1/admin/system");
  const audit = data.audit;
  facts(document.getElementById("audit-facts"), [
    ["Trail", audit.readable ? "readable" : `unreadable (${audit.error})`],
    ["Last row", audit.head_seq ? `#${audit.head_seq} at ${time(audit.head_at)}` : "none"],
    ["Last checkpoint", audit.checkpoint_seq ? `#${audit.checkpoint_seq} at ${time(audit.checkpoint_at)}, ${audit.checkpoint_hash}` : "none yet"],
  ]);
}

export function startAudit() {
  const form = document.getElementById("audit-search");
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const id = String(new FormData(form).get("correlation_id")).trim();
    if (id) openTimeline(id);
  });
}
