// The Accounts, System and Audit views: pictures from the admin API; an account's kill switch
// is engaged or released from its row; the audit chain is verified from the Audit view.
import { api, ApiError, el, SignedOut, time } from "./api.js";
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
        el("td", {}, account.venues.length ? account.venues.map(venueReport) : data.venue_error ? `unknown: ${data.venue_error}` : "paper only"),
        el("td", {}, switchState(account.kill_switch), switchControl(account)),
        el("td", {}, restrictions.has(account.account_id) ? `restricted: ${restrictions.get(account.account_id).reason}` : "none"),
      ),
    ),
  );
}

// The ledger's last reconciliation at a venue the account has a key for: when the venue last
// reported, how the ledger took it, and per asset the venue's total, the ledger's and the drift.
function venueReport(report) {
  if (!report.reported_at) return el("p", {}, `${report.venue}: no report yet`);
  const heading = `${report.venue}: reported ${time(report.reported_at)}, ${report.outcome ?? "not compared"}`;
  const rows = report.assets.map((a) =>
    el(
      "tr",
      { class: Number(a.drift) < 0 ? "rejected" : null },
      el("td", {}, a.asset),
      el("td", { class: "number" }, a.venue_total),
      el("td", { class: "number" }, a.ledger_total),
      el("td", { class: "number" }, a.drift),
    ),
  );
  return el(
    "div",
    { class: "venue" },
    el("p", {}, heading),
    rows.length
      ? el(
          "table",
          { "aria-label": `Drift at ${report.venue}` },
          el("thead", {}, el("tr", {}, el("th", {}, "Asset"), el("th", {}, "Venue"), el("th", {}, "Ledger"), el("th", {}, "Drift"))),
          el("tbody", {}, rows),
        )
      : null,
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
    ["Last checkpoint", checkpoint(data.audit)],
    ["Last verification", verification(data.audit.last_verification)],
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
        el("td", { class: "number" }, s.outbox_error ? `unknown (${s.outbox_error})` : known(s.outbox_backlog)),
        el("td", { class: "number" }, s.outbox_oldest_age_seconds === null || s.outbox_oldest_age_seconds === undefined ? "" : s.outbox_oldest_age_seconds.toFixed(1)),
        el("td", {}, s.consumer_group),
      ),
    ),
  );
}

function checkpoint(audit) {
  return audit.checkpoint_seq ? `#${audit.checkpoint_seq} at ${time(audit.checkpoint_at)}, ${audit.checkpoint_hash}` : "none yet";
}

function verification(v) {
  if (!v) return "never from the console";
  const verdict = v.ok ? "ok" : `BROKEN at seq ${v.first_bad_seq ?? "?"} (${v.problem}): ${v.detail ?? ""}`;
  return `${verdict}; ${v.rows_checked} rows checked, ${v.checkpoints_checked} checkpoints, at ${time(v.verified_at)}`;
}

export async function showAudit() {
  const data = await api("/v1/admin/system");
  const audit = data.audit;
  facts(document.getElementById("audit-facts"), [
    ["Trail", audit.readable ? "readable" : `unreadable (${audit.error})`],
    ["Last row", audit.head_seq ? `#${audit.head_seq} at ${time(audit.head_at)}` : "none"],
    ["Last checkpoint", checkpoint(audit)],
    ["Last verification", verification(audit.last_verification)],
  ]);
}

// Verify the whole chain now (POST /v1/admin/audit/verify); the result stays on the page and
// becomes the "last verification" of the System and Audit views.
async function verifyChain(onSignedOut) {
  const result = document.getElementById("audit-verify-result");
  const button = document.getElementById("audit-verify");
  result.textContent = "verifying…";
  button.disabled = true;
  try {
    const v = await api("/v1/admin/audit/verify", { method: "POST" });
    result.textContent = v.ok ? `ok: ${v.rows_checked} rows checked` : `broken: first bad seq ${v.first_bad_seq ?? "?"} (${v.problem}): ${v.detail ?? ""}`;
    result.className = v.ok ? "ok" : "error";
    await showAudit();
  } catch (failure) {
    if (failure instanceof SignedOut) onSignedOut();
    else if (failure instanceof ApiError) {
      result.textContent = failure.message;
      result.className = "error";
    } else throw failure;
  } finally {
    button.disabled = false;
  }
}

export function startAudit(onSignedOut) {
  document.getElementById("audit-verify").addEventListener("click", () => verifyChain(onSignedOut));
  const form = document.getElementById("audit-search");
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const id = String(new FormData(form).get("correlation_id")).trim();
    if (id) openTimeline(id);
  });
}
