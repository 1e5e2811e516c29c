// Calls to the gateway's admin API with the console's session cookie (set by
// POST /v1/admin/session, HttpOnly: this script never sees it). Every request carries
// `X-Requested-By: console`, which another site cannot send without a CORS preflight.

export class SignedOut extends Error {}

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail || `HTTP ${status}`);
    this.status = status;
    this.code = problem?.code;
  }
}

export async function api(path, { method = "GET", body } = {}) {
  const headers = { "X-Requested-By": "console", Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "same-origin",
    cache: "no-store",
  });
  if (response.status === 204) return null;
  const data = await response.json().catch(() => null);
  if (response.status === 401 && !path.endsWith("/v1/admin/session")) throw new SignedOut();
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

// Elements from data, never from HTML strings: nothing a user typed is parsed as markup.
export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "class") node.className = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function time(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? String(iso) : date.toISOString().replace("T", " ").replace("Z", " UTC");
}
