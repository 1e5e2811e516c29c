// The operator console: sign in, then one view per navigation link (the URL's fragment).
import { api, ApiError, SignedOut } from "./api.js";
import { showDeadLetters, startDeadLetters } from "./deadletters.js";
import { startOrders, stopOrders } from "./orders.js";
import { showAccounts, showAudit, showSystem, startAudit } from "./panels.js";
import { showRestrictions, startRestrictions } from "./restrictions.js";
import { showSwitches, startSwitches } from "./switches.js";

const VIEWS = {
  orders: null,
  accounts: showAccounts,
  "kill-switches": showSwitches,
  restrictions: showRestrictions,
  "dead-letters": showDeadLetters,
  system: showSystem,
  audit: showAudit,
};
let started = false;

function $(id) {
  return document.getElementById(id);
}

function signedOut() {
  stopOrders();
  started = false;
  $("app").hidden = true;
  $("sign-in").hidden = false;
  $("who").hidden = true;
  $("sign-out").hidden = true;
  $("email").focus();
}

function signedIn(session) {
  $("sign-in").hidden = true;
  $("app").hidden = false;
  $("who").hidden = false;
  $("who").textContent = `signed in as ${session.user_id}`;
  $("sign-out").hidden = false;
  $("password").value = "";
  $("totp").value = "";
  if (!started) {
    started = true;
    startOrders(signedOut);
  }
  if (!location.hash) history.replaceState(null, "", "#orders");
  route();
}

async function route() {
  const name = location.hash.slice(1) in VIEWS ? location.hash.slice(1) : "orders";
  for (const view of Object.keys(VIEWS)) {
    $(`view-${view}`).hidden = view !== name;
  }
  $("timeline").hidden = true;
  for (const link of document.querySelectorAll("nav a")) {
    if (link.getAttribute("href") === `#${name}`) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  const show = VIEWS[name];
  if (!show || $("app").hidden) return;
  try {
    await show();
  } catch (error) {
    if (error instanceof SignedOut) signedOut();
    else throw error;
  }
}

async function signIn(event) {
  event.preventDefault();
  const error = $("sign-in-error");
  error.textContent = "";
  const body = { email: $("email").value.trim(), password: $("password").value };
  const code = $("totp").value.trim();
  if (code) body.totp_code = code;
  try {
    signedIn(await api("/v1/admin/session", { method: "POST", body }));
  } catch (failure) {
    if (!(failure instanceof ApiError)) throw failure;
    error.textContent =
      failure.code === "totp_required"
        ? "Enter the TOTP code from your authenticator (or it was wrong or used already)."
        : failure.code === "forbidden"
          ? "This account is not an administrator."
          : failure.code === "too_many_attempts"
            ? failure.message
            : "Wrong email or password.";
  }
}

async function signOut() {
  await api("/v1/admin/session", { method: "DELETE" }).catch(() => null);
  signedOut();
}

async function start() {
  $("sign-in-form").addEventListener("submit", signIn);
  $("sign-out").addEventListener("click", signOut);
  window.addEventListener("hashchange", route);
  startSwitches(signedOut);
  startRestrictions(signedOut);
  startDeadLetters(signedOut);
  startAudit(signedOut);
  try {
    signedIn(await api("/v1/admin/session"));
  } catch {
    signedOut();
  }
}

start();
