// Dashboard forms: operator feedback on an anomaly and acknowledging an incident.
(function () {
  "use strict";

  function show(form, text, ok) {
    var out = form.querySelector(".result");
    if (!out) { return; }
    out.textContent = text;
    out.className = "result " + (ok ? "ok" : "error");
  }

  function detail(body) {
    if (body && Array.isArray(body.detail)) {
      return body.detail.map(function (d) {
        return (d.loc || []).slice(1).join(".") + ": " + d.msg;
      }).join("; ");
    }
    return body && body.detail ? String(body.detail) : "request failed";
  }

  async function send(url, payload) {
    var response = await fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json", "Accept": "application/json" },
      body: payload === undefined ? undefined : JSON.stringify(payload)
    });
    var body = null;
    try { body = await response.json(); } catch (e) { body = null; }
    if (!response.ok) { throw new Error(detail(body)); }
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

  var annotate = document.getElementById("annotate");
  if (annotate) {
    var author = annotate.elements.namedItem("author");
    author.value = localStorage.getItem("imon-author") || "";
    annotate.addEventListener("submit", async function (event) {
      event.preventDefault();
      var label = event.submitter ? event.submitter.value : "";
      var payload = { author: author.value, text: annotate.elements.namedItem("text").value };
      if (label) { payload.label = label; }
      localStorage.setItem("imon-author", author.value);
      var buttons = annotate.querySelectorAll("button");
      buttons.forEach(function (b) { b.disabled = true; });
      try {
        var note = await send(annotate.dataset.url, payload);
        addAnnotation(document.getElementById("annotations"), note);
        if (note.label) {
          document.getElementById("anomaly-status").textContent = note.label;
        }
        show(annotate, "Saved" + (note.label ? ": " + note.label : "") + ".", true);
      } catch (error) {
        show(annotate, error.message, false);
      } finally {
        buttons.forEach(function (b) { b.disabled = false; });
      }
    });
  }

  var ack = document.getElementById("ack");
  if (ack) {
    ack.addEventListener("submit", async function (event) {
      event.preventDefault();
      try {
        await send(ack.dataset.url);
        show(ack, "Acknowledged.", true);
        ack.querySelector("button").disabled = true;
      } catch (error) {
        show(ack, error.message, false);
      }
    });
  }
})();
