// The Restrictions view: the restricted list in force, restrict a symbol or an account and lift
// a restriction, each with a reason, through POST /v1/admin/restrictions.
import { api, ApiError, el, time } from "./api.js";

export async function showRestrictions() {
  const data = await api("/v1/admin/restrictions");
  const body = document.querySelector("#restrictions-table tbody");
  if (!data.items.length) {
    body.replaceChildren(el("tr", {}, el("td", { colspan: "6" }, "Nothing is restricted.")));
    return;
  }
  body.replaceChildren(
    ...data.items.map((r) =>
      el(
        "tr",
        { class: "engaged" },
        el("td", {}, r.scope),
        el("td", {}, r.target),
        el("td", {}, r.reason),
        el("td", {}, r.changed_by),
        el("td", {}, time(r.changed_at)),
        el("td", {}, el("button", { type: "button", onclick: () => prepareLift(r) }, `Lift ${r.scope} ${r.target}`)),
      ),
    ),
  );
}

function prepareLift(r) {
  document.getElementById("restriction-scope").value = r.scope;
  document.getElementById("restriction-target").value = r.target;
  setRestrict(false);
  document.getElementById("restriction-reason").focus();
}

function setRestrict(restrict) {
  document.getElementById("restriction-form").dataset.restrict = restrict ? "true" : "false";
  document.getElementById("restriction-form-title").textContent = restrict ? "Restrict" : "Lift a restriction";
  document.getElementById("restriction-submit").textContent = restrict ? "Restrict" : "Lift";
}

export function startRestrictions(onSignedOut) {
  const form = document.getElementById("restriction-form");
  const error = document.getElementById("restriction-error");
  setRestrict(true);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.textContent = "";
    const values = Object.fromEntries(new FormData(form));
    const body = {
      scope: values.scope,
      target: String(values.target).trim(),
      restricted: form.dataset.restrict === "true",
      reason: String(values.reason).trim(),
    };
    try {
      await api("/v1/admin/restrictions", { method: "POST", body });
      document.getElementById("restriction-reason").value = "";
      document.getElementById("restriction-target").value = "";
      setRestrict(true);
      await showRestrictions();
    } catch (failure) {
      if (failure instanceof ApiError) error.textContent = failure.message;
      else onSignedOut();
    }
  });
}
