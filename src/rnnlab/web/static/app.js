// The page's only script: list the models, bound the inputs as the server does, send the form to
// /api/generate, show poems or the error; "look inside" a poem with /api/choices.
"use strict";

const $ = (id) => document.getElementById(id);
const NUMBERS = ["temperature", "top_k", "top_p", "beam_size", "num", "seed"];

function showError(message) {
  $("error").textContent = message;
  $("error").hidden = false;
}

// JSON from the server, or an Error that says what went wrong.
async function getJSON(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`the server answered ${response.status}`);
  return response.json();
}

async function loadModels() {
  let models;
  try {
    models = await getJSON("/api/models");
  } catch (err) {
    showError(`could not load the model list (${err.message}); reload the page`);
    $("write").disabled = true;
    return;
  }
  for (const m of models) {
    const option = new Option(`${m.name} (${m.corpus})`, m.name);
    option.dataset.info = `${m.architecture} · vocabulary ${m.vocab_size}` +
      (m.valid_ppl ? ` · validation perplexity ${m.valid_ppl.toFixed(1)}` : "");
    $("model").add(option);
  }
  showInfo();
}

// Each number input gets the bounds of the server's request schema (declared once, in GenerationOptions).
async function loadBounds() {
  let schema;
  try {
    schema = (await getJSON("/openapi.json")).components.schemas.GenerateRequest.properties;
  } catch (err) {
    return;                                  // the server still checks every value
  }
  for (const name of NUMBERS) {
    const field = schema[name] || {};
    const limits = (field.anyOf || [field]).find((part) => part.type !== "null") || {};
    const low = limits.minimum ?? limits.exclusiveMinimum;
    if (low !== undefined) $(name).min = low;
    if (limits.maximum !== undefined) $(name).max = limits.maximum;
  }
}

function showInfo() {
  const option = $("model").selectedOptions[0];
  $("model-info").textContent = option ? option.dataset.info : "";
}

// The form as the API's JSON: empty fields are left out, so the server's defaults apply.
function request() {
  const body = {};
  for (const [key, value] of new FormData($("request"))) {
    if (value === "") continue;
    body[key] = NUMBERS.includes(key) ? Number(value) : value;
  }
  return body;
}

const LINES = /[^，。！？；]+[，。！？；]?/g;

// A poem in lines: a line ends after each ， 。 ！ ？ ；  With a "look inside" button for the options it was
// written with.
function render(poem, options) {
  const div = document.createElement("div");
  div.className = "poem";
  const text = document.createElement("div");
  for (const line of poem.match(LINES) || [poem]) {
    const p = document.createElement("div");
    p.className = "line";
    p.textContent = line;
    text.append(p);
  }
  const look = document.createElement("button");
  look.type = "button";
  look.className = "look";
  look.textContent = "看里面 look inside";
  look.addEventListener("click", () => lookInside(div, text, look, poem, options));
  div.append(text, look);
  return div;
}

function percent(p) {
  return `${(100 * p).toFixed(p < 0.01 ? 2 : 1)}%`;
}

// What the model did at one position, in words.
function describe(step) {
  const top = step.top.map(([ch, p]) => `${ch} ${percent(p)}`).join(" · ");
  const acted = step.forced ? `forced by ${step.forced}` :
    step.overruled.length ? `${step.overruled.join(", ")} overruled the model's first choice` : "the model's own choice";
  return `${step.char}: p ${percent(step.p)}, rank ${step.rank} · model's top 5: ${top} · ${acted}` +
    (step.removed > 0.005 ? ` · constraints removed ${percent(step.removed)}` : "");
}

// Each character shaded by the probability the model gave it; tap or hover for its alternatives.
async function lookInside(div, text, look, poem, options) {
  look.disabled = true;
  let answer;
  try {
    const response = await fetch("/api/choices", {
      method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify({...options, poem}),
    });
    answer = await response.json();
    if (!response.ok) {
      showError(explain(response.status, answer.detail));
      look.disabled = false;
      return;
    }
  } catch (err) {
    showError(`no answer from the server (${err.message})`);
    look.disabled = false;
    return;
  }
  const detail = document.createElement("p");
  detail.className = "detail";
  detail.textContent = "tap a character: the model's probability and its alternatives";
  const steps = answer.steps.filter((s) => s.char !== "<eos>");
  let k = 0;
  text.replaceChildren();
  for (const line of poem.match(LINES) || [poem]) {
    const row = document.createElement("div");
    row.className = "line";
    for (const _ of line) {
      const step = steps[k++];
      const span = document.createElement("span");
      span.className = "ch" + (step.forced ? " forced" : step.overruled.length ? " overruled" : "");
      span.textContent = step.char;
      span.tabIndex = 0;
      span.dataset.p = String(step.p);
      span.style.setProperty("--p", String(step.p));
      span.title = describe(step);
      const show = () => { detail.textContent = describe(step); };
      span.addEventListener("click", show);
      span.addEventListener("focus", show);
      span.addEventListener("mouseenter", show);
      row.append(span);
    }
    text.append(row);
  }
  const legend = document.createElement("p");
  legend.className = "legend";
  legend.textContent = "darker: the model was surer · red underline: a rule overruled it · dotted: forced";
  look.replaceWith(legend, detail);
}

function explain(status, detail) {
  if (Array.isArray(detail)) {
    return detail.map((d) => `${d.loc[d.loc.length - 1]}: ${d.msg}`).join("; ");
  }
  return detail || `the server answered ${status}`;
}

function writing(busy) {
  $("write").disabled = busy;
  $("write").textContent = busy ? "写作中… writing" : "写诗 Write";
  $("status").hidden = !busy;
  $("poems").setAttribute("aria-busy", String(busy));
}

async function write(event) {
  event.preventDefault();
  writing(true);
  $("error").hidden = true;
  try {
    const response = await fetch("/api/generate", {
      method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(request()),
    });
    const answer = await response.json();
    if (!response.ok) {
      showError(explain(response.status, answer.detail));
      return;
    }
    const options = {...request(), model: answer.model};
    $("poems").replaceChildren(...answer.poems.map((poem) => render(poem, options)));
    $("poems").scrollIntoView({block: "nearest"});
  } catch (err) {
    showError(`no answer from the server (${err.message})`);
  } finally {
    writing(false);
  }
}

$("model").addEventListener("change", showInfo);
$("request").addEventListener("submit", write);
loadModels();
loadBounds();
