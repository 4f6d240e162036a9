// The decision explorer: a form from the serving bundle, a dry-run decision with its
// explanation drawn as bars, the dropped offers with their reasons. No dependencies.
"use strict";

const FACTORS = ["propensity", "context_weight", "value", "lever", "boost"];
const state = { bundle: null, offers: new Map() };

const $ = (selector) => document.querySelector(selector);

function element(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (name === "text") node.textContent = value;
    else node.setAttribute(name, value);
  }
  for (const child of children) node.append(child);
  return node;
}

async function getJSON(url, options) {
  const response = await fetch(url, options);
  const body = await response.json();
  return { response, body };
}

function fillSelect(select, values) {
  const required = select.hasAttribute("data-required");
  select.replaceChildren();
  if (!required) select.append(element("option", { value: "", text: "—" }));
  for (const value of values) select.append(element("option", { value, text: value }));
}

function attributeInput(root, name, kind) {
  const field = `${root}.attributes.${name}`;
  let input;
  if (kind === "boolean") {
    input = element("select", { name: field, "data-kind": kind });
    for (const [value, text] of [["", "—"], ["true", "true"], ["false", "false"]]) {
      input.append(element("option", { value, text }));
    }
  } else {
    input = element("input", {
      name: field,
      "data-kind": kind,
      placeholder: kind === "string_list" ? "a, b, …" : "—",
    });
    if (kind === "number") {
      input.type = "number";
      input.step = "any";
    }
  }
  return element("label", { title: kind }, `${name}`, input);
}

function renderForm(bundle) {
  for (const select of document.querySelectorAll("select[data-vocabulary]")) {
    fillSelect(select, bundle[select.dataset.vocabulary]);
  }
  for (const [root, attributes] of [
    ["customer", bundle.customer_attributes],
    ["context", bundle.context_attributes],
  ]) {
    const holder = $(`#${root}-attributes`);
    holder.replaceChildren();
    for (const [name, kind] of Object.entries(attributes)) {
      holder.append(attributeInput(root, name, kind));
    }
  }
}

function attributeValue(raw, kind) {
  if (kind === "number") return Number(raw);
  if (kind === "boolean") return raw === "true";
  if (kind === "string_list") return raw.split(",").map((s) => s.trim()).filter(Boolean);
  return raw;
}

function decisionRequest() {
  const form = $("#request");
  const customer = { attributes: {} };
  const context = { attributes: {} };
  const roots = { customer, context };
  for (const input of form.querySelectorAll("input[name], select[name]")) {
    const raw = input.value.trim();
    if (raw === "" || input.name === "limit") continue;
    const [root, key, name] = input.name.split(".");
    if (key === "attributes") {
      roots[root].attributes[name] = attributeValue(raw, input.dataset.kind);
    } else {
      roots[root][key] = input.type === "number" ? Number(raw) : raw;
    }
  }
  return {
    customer,
    context,
    limit: Number(form.elements.limit.value || 3),
    explain: true,
    dry_run: true,
  };
}

function bar(label, value, max, extra = "") {
  const share = max > 0 ? Math.max(0, Math.min(1, value / max)) : 0;
  const fill = element("i");
  fill.style.width = `${(share * 100).toFixed(1)}%`;
  return [
    element("span", { text: label }),
    element("div", { class: `bar ${extra}`, role: "meter", "aria-label": label,
      "aria-valuenow": String(value) }, fill),
    element("span", { class: "num", text: Number(value).toPrecision(3) }),
  ];
}

function offerName(id) {
  const offer = state.offers.get(id);
  return offer ? offer.name : id;
}

function rankedCard(candidate, maxima) {
  const title = element(
    "h3",
    {},
    element("span", { class: "rank", text: `#${candidate.rank}` }),
    element("span", { text: offerName(candidate.offer_id) }),
    element("span", { class: "tag", text: candidate.category }),
  );
  if (candidate.pinned) title.append(element("span", { class: "tag pinned", text: "pinned" }));
  for (const rule of candidate.rules) title.append(element("span", { class: "tag", text: rule }));
  const bars = element("div", { class: "bars" });
  for (const factor of FACTORS) bars.append(...bar(factor, candidate[factor], maxima[factor]));
  bars.append(...bar("priority", candidate.priority, maxima.priority, "priority"));
  return element("div", {
    class: "offer ranked",
    "data-offer": candidate.offer_id,
    "data-category": candidate.category,
  }, title, bars);
}

function ruleById(id) {
  return state.bundle.rules.find((rule) => rule.id === id);
}

function policyById(id) {
  return state.bundle.policies.find((policy) => policy.id === id);
}

function reasonText(reason) {
  const holder = element("div", { class: "reason" });
  const [kind, id] = reason.split(/:(.*)/s);
  if (kind === "rule") {
    const rule = ruleById(id);
    const requires = rule && rule.action === "require";
    holder.append(requires ? "not eligible: rule " : "dropped by rule ", element("code", { text: id }));
    if (rule) {
      holder.append(requires ? " requires " : " when ");
      holder.append(element("code", { class: "condition", text: rule.when }));
      if (rule.description) holder.append(` — ${rule.description}`);
    }
  } else if (kind === "cap") {
    const policy = policyById(id);
    holder.append("held back by contact policy ", element("code", { text: id }));
    if (policy) {
      holder.append(": ", element("code", { class: "condition", text: policy.terms }));
      if (policy.description) holder.append(` — ${policy.description}`);
    }
  } else if (kind === "channel") {
    holder.append("not offered on this channel");
  } else if (kind === "rank") {
    holder.append("eligible, but beyond the number of offers asked for");
  } else if (kind === "degraded") {
    holder.append(`withheld: ${id.replace("_", " ")} could not be asked`);
  } else {
    holder.append(reason);
  }
  return holder;
}

function droppedCard(candidate) {
  const title = element(
    "h3",
    {},
    element("span", { text: offerName(candidate.offer_id) }),
    element("span", { class: "tag", text: candidate.category }),
  );
  return element("div", {
    class: "offer dropped-offer",
    "data-offer": candidate.offer_id,
    "data-category": candidate.category,
    "data-reason": candidate.reason || "",
  }, title, reasonText(candidate.reason || "unknown"));
}

function renderDecision(decision) {
  const candidates = decision.explanation ? decision.explanation.candidates : [];
  const ranked = candidates
    .filter((c) => c.outcome === "selected")
    .sort((a, b) => a.rank - b.rank);
  const dropped = candidates.filter((c) => c.outcome === "dropped");
  const maxima = {};
  for (const factor of [...FACTORS, "priority"]) {
    maxima[factor] = Math.max(0, ...ranked.map((c) => c[factor]));
  }
  $("#formula").textContent = decision.explanation ? decision.explanation.formula : "";
  $("#ranked").replaceChildren(...ranked.map((c) => rankedCard(c, maxima)));
  if (!ranked.length) $("#ranked").append(element("p", { class: "muted", text: "No offer." }));
  $("#dropped").replaceChildren(element("div", { class: "dropped" }, ...dropped.map(droppedCard)));
  const degraded = decision.degraded.length ? ` · degraded: ${decision.degraded.join(", ")}` : "";
  $("#status").textContent =
    `decision ${decision.decision_id} · bundle ${decision.bundle_version}${degraded}`;
}

function renderProblem(problem) {
  const box = $("#problem");
  box.hidden = false;
  const lines = problem.errors && problem.errors.length
    ? problem.errors.map((e) => element("div", { text: `${e.field}: ${e.problem}` }))
    : [element("div", { text: problem.detail })];
  box.replaceChildren(element("strong", { text: `${problem.status} ${problem.title}` }), ...lines);
}

// Every change of the form asks again; answers can arrive out of order, and only the
// answer to the latest request is shown.
let latestRequest = 0;

async function decide(event) {
  if (event) event.preventDefault();
  const request = decisionRequest();
  const ticket = ++latestRequest;
  $("#status").textContent = "deciding…";
  $("#problem").hidden = true;
  const { response, body } = await getJSON("/v1/decisions", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(request),
  });
  if (ticket !== latestRequest) return;
  $("#raw").textContent = JSON.stringify({ request, response: body }, null, 2);
  if (!response.ok) {
    renderProblem(body);
    $("#status").textContent = `refused (request id ${response.headers.get("x-request-id")})`;
    $("#ranked").replaceChildren();
    $("#dropped").replaceChildren();
    return;
  }
  renderDecision(body);
  document.body.dataset.decided = body.decision_id;
}

function renderCatalogue(page) {
  const rows = page.offers.map((o) => element(
    "tr",
    {},
    element("td", { text: o.id }),
    element("td", { text: o.name }),
    element("td", { text: o.category }),
    element("td", { text: o.channels.join(", ") }),
    element("td", { class: "num", text: String(o.value) }),
    element("td", { class: "num", text: String(o.lever) }),
  ));
  $("#catalogue tbody").replaceChildren(...rows);
}

function renderBundle(info) {
  const reload = info.last_reload
    ? `last reload ${info.last_reload.at} (${info.last_reload.trigger}, ${info.last_reload.result})`
    : "no reload since start-up";
  $("#bundle").textContent =
    `${info.name} ${info.version} · loaded ${info.loaded_at} · ${info.offers} offers, ` +
    `${info.rules} rules · ${reload}`;
}

async function start() {
  const [explorer, offers, info] = await Promise.all([
    getJSON("/ui/bundle.json"),
    getJSON("/v1/offers"),
    getJSON("/v1/bundle"),
  ]);
  state.bundle = explorer.body;
  for (const offer of offers.body.offers) state.offers.set(offer.id, offer);
  renderForm(state.bundle);
  renderCatalogue(offers.body);
  renderBundle(info.body);
  const form = $("#request");
  form.addEventListener("submit", decide);
  form.addEventListener("change", () => decide());
  document.body.dataset.ready = "true";
}

start();
