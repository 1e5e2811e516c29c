// The Kill switches view: every switch, engage (a confirmation step for global) and release
// with a reason, through POST /v1/admin/kill-switch.
import { api, ApiError, el, time } from "./api.js";

let pending = null;

export async function showSwitches() {
  const data = await api("/v1/admin/kill-switch");
  const body = document.querySelector("#switches-table tbody");
  if (!data.items.length) {
    body.replaceChildren(el("tr", {}, el("td", { colspan: "8" }, "No switch has been set.")));
    return;
  }
  body.replaceChildren(
    ...data.items.map((s) =>
      el(
        "tr",
        { class: s.engaged ? "engaged" : null },
        el("td", {}, s.scope),
        el("td", {}, s.target ?? "(all)"),
        el("td", {}, s.mode),
        el("td", {}, s.engaged ? "engaged" : "released"),
        el("td", {}, s.reason),
        el("td", {}, s.changed_by),
        el("td", {}, time(s.changed_at)),
        el(
          "td",
          {},
          s.engaged
            ? el("button", { type: "button", onclick: () => prepareRelease(s) }, `Release ${s.scope} ${s.target ?? ""}`.trim())
            : "",
        ),
      ),
    ),
  );
}

function prepareRelease(s) {
  document.getElementById("switch-scope").value = s.scope;
  document.getElementById("switch-target").value = s.target ?? "";
  document.getElementById("switch-mode").value = s.mode;
  setEngage(false);
  document.getElementById("switch-reason").focus();
}

function setEngage(engage) {
  const form = document.getElementById("switch-form");
  form.dataset.engage = engage ? "true" : "false";
  document.getElementById("switch-form-title").textContent = engage ? "Engage a kill switch" : "Release a kill switch";
  document.getElementById("switch-submit").textContent = engage ? "Engage" : "Release";
}

export function startSwitches(onSignedOut) {
  const form = document.getElementById("switch-form");
  const confirmBox = document.getElementById("switch-confirm");
  const error = document.getElementById("switch-error");
  setEngage(true);

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    error.textContent = "";
    const values = Object.fromEntries(new FormData(form));
    const body = {
      scope: values.scope,
      engaged: form.dataset.engage === "true",
      reason: String(values.reason).trim(),
      mode: values.mode,
    };
    if (values.scope !== "global") body.target = String(values.target).trim();
    if (body.scope === "global") {
      pending = body;
      document.getElementById("switch-confirm-text").textContent = body.engaged
        ? `Engage a GLOBAL ${body.mode} switch? Every account's trading stops.`
        : "Release the GLOBAL switch? Trading resumes for every account.";
      confirmBox.hidden = false;
      document.getElementById("switch-confirm-yes").focus();
      return;
    }
    send(body, onSignedOut);
  });
  document.getElementById("switch-confirm-yes").addEventListener("click", () => {
    confirmBox.hidden = true;
    if (pending) send(pending, onSignedOut);
    pending = null;
  });
  document.getElementById("switch-confirm-no").addEventListener("click", () => {
    confirmBox.hidden = true;
    pending = null;
  });
}

async function send(body, onSignedOut) {
  const error = document.getElementById("switch-error");
  try {
    await api("/v1/admin/kill-switch", { method: "POST", body });
    document.getElementById("switch-reason").value = "";
    setEngage(true);
    await showSwitches();
  } catch (failure) {
    if (failure instanceof ApiError) error.textContent = failure.message;
    else onSignedOut();
  }
}
