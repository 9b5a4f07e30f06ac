// The page's only script: list the models, send the form to /api/generate, show poems or the error.
"use strict";

const $ = (id) => document.getElementById(id);
const NUMBERS = ["temperature", "top_k", "top_p", "beam_size", "num", "seed"];

async function loadModels() {
  const models = await (await fetch("/api/models")).json();
  for (const m of models) {
    const option = new Option(`${m.name} (${m.corpus})`, m.name);
    option.dataset.info = `${m.architecture} · vocabulary ${m.vocab_size}` +
      (m.valid_ppl ? ` · validation perplexity ${m.valid_ppl.toFixed(1)}` : "");
    $("model").add(option);
  }
  showInfo();
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

async function write(event) {
  event.preventDefault();
  $("write").disabled = true;
  $("error").hidden = true;
  try {
    const response = await fetch("/api/generate", {
      method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(request()),
    });
    const answer = await response.json();
    if (!response.ok) {
      $("error").textContent = explain(response.status, answer.detail);
      $("error").hidden = false;
      return;
    }
    $("poems").replaceChildren(...answer.poems.map(render));
    $("poems").scrollIntoView({block: "nearest"});
  } catch (err) {
    $("error").textContent = `no answer from the server (${err.message})`;
    $("error").hidden = false;
  } finally {
    $("write").disabled = false;
  }
}

$("model").addEventListener("change", showInfo);
$("request").addEventListener("submit", write);
loadModels();
