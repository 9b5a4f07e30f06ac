// The page's only script: list the models, bound the inputs as the server does, send the form to
// /api/generate, show poems or the error.
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

// A poem in lines: a line ends after each ， 。 ！ ？ ；
function render(poem) {
  const div = document.createElement("div");
  div.className = "poem";
  for (const line of poem.match(/[^，。！？；]+[，。！？；]?/g) || [poem]) {
    const p = document.createElement("div");
    p.className = "line";
    p.textContent = line;
    div.append(p);
  }
  return div;
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
    $("poems").replaceChildren(...answer.poems.map(render));
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
