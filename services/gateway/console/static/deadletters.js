// The Dead letters view: per topic, each parked message with its consumer, error and original
// message (secrets redacted by the gateway); re-drive one, or all of a topic, after a
// confirmation step, through POST /v1/admin/dead-letters/redrive.
import { api, ApiError, el, time } from "./api.js";

let pending = null;

export async function showDeadLetters() {
  const data = await api("/v1/admin/dead-letters");
  document.getElementById("dead-letters-note").textContent =
    `A message is re-driven at most ${data.max_redrives} times; the consumer that parked it applies it once.`;
  const holder = document.getElementById("dead-letters-topics");
  holder.replaceChildren(...data.topics.map((topic) => topicSection(topic, data.max_redrives)));
}

function topicSection(topic, max) {
  const heading = el("h3", {}, `${topic.topic} (${topic.items.length})`);
  if (!topic.items.length) return el("section", { class: "dlq-topic" }, heading, el("p", { class: "note" }, "No dead letters."));
  const all = el(
    "button",
    { type: "button", onclick: () => ask({ topic: topic.topic, all: true }, `Re-drive all ${topic.items.length} dead letters of ${topic.topic}?`) },
    `Re-drive all of ${topic.topic}`,
  );
  const rows = topic.items.map((d) =>
    el(
      "tr",
      {},
      el("td", {}, `${d.partition}@${d.offset}`),
      el("td", {}, time(d.parked_at)),
      el("td", {}, d.consumer),
      el("td", {}, d.error),
      el("td", {}, el("pre", { class: "message" }, JSON.stringify({ headers: d.original_headers, message: d.original_message }, null, 2))),
      el("td", {}, `${d.redrives} / ${max}`),
      el(
        "td",
        {},
        d.redrives >= max
          ? "limit reached"
          : el(
              "button",
              {
                type: "button",
                onclick: () =>
                  ask({ topic: d.topic, partition: d.partition, offset: d.offset }, `Re-drive ${d.original_topic} message ${d.original_event_id} (dead letter ${d.partition}@${d.offset})?`),
              },
              `Re-drive ${d.partition}@${d.offset}`,
            ),
      ),
    ),
  );
  return el(
    "section",
    { class: "dlq-topic" },
    heading,
    all,
    el(
      "table",
      {},
      el("thead", {}, el("tr", {}, ["Position", "Parked", "Consumer", "Error", "Original message", "Re-drives", ""].map((h) => el("th", {}, h)))),
      el("tbody", {}, rows),
    ),
  );
}

function ask(body, text) {
  pending = body;
  document.getElementById("dead-letters-confirm-text").textContent = text;
  document.getElementById("dead-letters-confirm").hidden = false;
  document.getElementById("dead-letters-confirm-yes").focus();
}

export function startDeadLetters(onSignedOut) {
  const box = document.getElementById("dead-letters-confirm");
  const error = document.getElementById("dead-letters-error");
  document.getElementById("dead-letters-confirm-no").addEventListener("click", () => {
    box.hidden = true;
    pending = null;
  });
  document.getElementById("dead-letters-confirm-yes").addEventListener("click", async () => {
    box.hidden = true;
    const body = pending;
    pending = null;
    if (!body) return;
    error.textContent = "";
    try {
      const result = await api("/v1/admin/dead-letters/redrive", { method: "POST", body });
      error.textContent = result.refused.length
        ? `${result.redriven.length} re-driven; ${result.refused.length} refused (re-driven too often).`
        : "";
      await showDeadLetters();
    } catch (failure) {
      if (failure instanceof ApiError) error.textContent = failure.message;
      else onSignedOut();
    }
  });
}
