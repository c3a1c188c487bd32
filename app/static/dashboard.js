// Dashboard forms: operator feedback, acknowledge, silence, maintenance. Each form is a
// plain POST with its hidden CSRF token (it works without JavaScript); this script sends
// the same fields with fetch and shows the answer in place.
(function () {
  "use strict";

  function show(form, text, ok) {
    var out = form.querySelector(".result");
    if (!out) { return; }
    out.textContent = text;
    out.className = "result " + (ok ? "ok" : "error");
  }

  function detail(body, status) {
    if (body && Array.isArray(body.detail)) {
      return body.detail.map(function (d) {
        return (d.loc || []).slice(1).join(".") + ": " + d.msg;
      }).join("; ");
    }
    return body && body.detail ? String(body.detail) : "request failed (" + status + ")";
  }

  async function send(form, submitter) {
    var fields = new URLSearchParams(new FormData(form));
    if (submitter && submitter.name) { fields.set(submitter.name, submitter.value); }
    var response = await fetch(form.action, {
      method: "POST",
      headers: { "Accept": "application/json" },
      body: fields,
      credentials: "same-origin"
    });
    var body = null;
    try { body = await response.json(); } catch (e) { body = null; }
    if (!response.ok) { throw new Error(detail(body, response.status)); }
    return body;
  }

  function addAnnotation(list, note) {
    if (!list) { return; }
    var item = document.createElement("li");
    var when = document.createElement("time");
    when.dateTime = note.created_at;
    when.textContent = note.created_at;
    var who = document.createElement("strong");
    who.textContent = note.author;
    item.append(when, " ", who, " ");
    if (note.label) {
      var badge = document.createElement("span");
      badge.className = "badge";
      badge.textContent = note.label;
      item.append(badge, " ");
    }
    item.append(note.text || "");
    list.append(item);
  }

  // Each form: what to do with the JSON answer, and the text to show.
  function onAnswer(form, body) {
    if (form.id === "annotate") {
      addAnnotation(document.getElementById("annotations"), body);
      if (body.label) { document.getElementById("anomaly-status").textContent = body.label; }
      return "Saved" + (body.label ? ": " + body.label : "") + ".";
    }
    if (form.id === "ack") {
      form.querySelector("button").disabled = true;
      return "Acknowledged.";
    }
    if (form.classList.contains("silence")) { return "Silenced until " + body.until + "."; }
    if (form.id === "maintenance") { return "Declared: " + body.start + " \u2192 " + body.end + "."; }
    return "Done.";
  }

  var author = document.querySelector("#annotate input[name=author]");
  if (author) { author.value = localStorage.getItem("imon-author") || ""; }

  document.querySelectorAll("form#annotate, form#ack, form.silence, form#maintenance")
    .forEach(function (form) {
      form.addEventListener("submit", async function (event) {
        event.preventDefault();
        if (author && form.id === "annotate") { localStorage.setItem("imon-author", author.value); }
        var buttons = form.querySelectorAll("button");
        buttons.forEach(function (b) { b.disabled = true; });
        try {
          var body = await send(form, event.submitter);
          show(form, onAnswer(form, body), true);
        } catch (error) {
          show(form, error.message, false);
        } finally {
          if (form.id !== "ack" || !form.querySelector(".result.ok")) {
            buttons.forEach(function (b) { b.disabled = false; });
          }
        }
      });
    });
})();
