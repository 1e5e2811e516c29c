// The Accounts, System and Audit views: read-only pictures from the admin API.
import { api, el, time } from "./api.js";
import { openTimeline } from "./timeline.js";

export async function showAccounts() {
  const data = await api("/v1/admin/accounts");
  const body = document.querySelector("#accounts-table tbody");
  body.replaceChildren(
    ...data.items.map((account) =>
      el(
        "tr",
        {},
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
        el("td", {}, switchState(account.kill_switch)),
      ),
    ),
  );
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
  ]);
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
