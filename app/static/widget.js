/*
 * Intelligent Monitoring chat widget. Embed it with one tag:
 *
 *   <script src="http://127.0.0.1:8000/static/widget.js" data-api-key="..."></script>
 *
 * Use a widget key (`imon keys create --widget --origin https://your.portal`): it can only
 * read and ask, and only from the listed origins. Optional attributes: data-title,
 * data-open="true". The service URL is derived from this script's own src; the key
 * travels as X-API-Key; plots and the event stream use signed, expiring links.
 * Everything is drawn inside a Shadow DOM so the host page's CSS does not leak in or out.
 * Plain ES2017, no dependencies, no build step.
 */
(function () {
  "use strict";

  var script = document.currentScript ||
    document.querySelector('script[src$="/static/widget.js"]');
  if (!script || window.__imonWidget) { return; }
  window.__imonWidget = true;

  var base = new URL("../", script.src).href;  // ".../static/widget.js" -> service root
  var apiKey = script.getAttribute("data-api-key") || "";
  var title = script.getAttribute("data-title") || "Ask about your satellites";
  var storeKey = "imon-widget-conversation:" + base;

  var CSS = [
    ":host { all: initial; }",
    "* { box-sizing: border-box; font-family: system-ui, -apple-system, 'Segoe UI', sans-serif;",
    "  font-size: 14px; line-height: 1.4; }",
    ".launcher { position: fixed; right: 20px; bottom: 20px; z-index: 2147483000;",
    "  width: 56px; height: 56px; border-radius: 50%; border: 0; cursor: pointer;",
    "  background: #2456c7; color: #fff; box-shadow: 0 4px 14px rgba(0,0,0,.25);",
    "  display: flex; align-items: center; justify-content: center; padding: 0; }",
    ".panel { position: fixed; right: 20px; bottom: 88px; z-index: 2147483000; width: 380px;",
    "  max-width: calc(100vw - 40px); height: 520px; max-height: calc(100vh - 120px);",
    "  display: none; flex-direction: column; background: #fff; color: #1d2330;",
    "  border: 1px solid #dde2ea; border-radius: 10px; box-shadow: 0 8px 30px rgba(0,0,0,.2);",
    "  overflow: hidden; }",
    ".panel.open { display: flex; }",
    ".head { display: flex; align-items: center; padding: 10px 12px; background: #2456c7;",
    "  color: #fff; font-weight: 600; }",
    ".head button { margin-left: auto; background: transparent; color: #fff; border: 0;",
    "  cursor: pointer; font-size: 18px; }",
    ".log { flex: 1; overflow-y: auto; padding: 10px; background: #f7f8fb; }",
    ".msg { margin: 6px 0; padding: 8px 10px; border-radius: 8px; max-width: 92%;",
    "  white-space: pre-wrap; word-wrap: break-word; }",
    ".msg.user { background: #2456c7; color: #fff; margin-left: auto; }",
    ".msg.bot { background: #fff; border: 1px solid #dde2ea; }",
    ".msg.push { background: #fff7e6; border: 1px solid #f0c36d; }",
    ".msg.error { background: #fdecec; border: 1px solid #f5b5b5; color: #8a1c1c; }",
    ".cited { margin: 6px 0 0; padding-left: 16px; white-space: normal; }",
    ".cited li { margin: 2px 0; font-size: 12px; }",
    "a { color: #2456c7; }",
    ".msg.user a { color: #fff; }",
    "img.plot { display: block; width: 100%; margin-top: 6px; border: 1px solid #dde2ea; }",
    "form { display: flex; gap: 6px; padding: 8px; border-top: 1px solid #dde2ea; }",
    "input { flex: 1; padding: 8px; border: 1px solid #c9d0db; border-radius: 6px;",
    "  background: #fff; color: #1d2330; }",
    "form button { padding: 8px 12px; border: 0; border-radius: 6px; background: #2456c7;",
    "  color: #fff; cursor: pointer; }",
    "form button:disabled { opacity: .6; cursor: wait; }",
    ".toast { position: fixed; right: 20px; bottom: 88px; z-index: 2147483001; width: 320px;",
    "  padding: 10px 12px; background: #fff7e6; color: #1d2330; border: 1px solid #f0c36d;",
    "  border-radius: 8px; box-shadow: 0 6px 20px rgba(0,0,0,.2); cursor: pointer; }",
    ".toast strong { display: block; margin-bottom: 2px; }",
    ".panel.open ~ .toast { display: none; }"
  ].join("\n");

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (name) { node.setAttribute(name, attrs[name]); });
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  }

  function bubbleIcon() {
    var ns = "http://www.w3.org/2000/svg";
    var svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("width", "26");
    svg.setAttribute("height", "26");
    svg.setAttribute("aria-hidden", "true");
    var path = document.createElementNS(ns, "path");
    path.setAttribute("fill", "currentColor");
    path.setAttribute("fill-rule", "evenodd");
    path.setAttribute("d", "M4 3h16a2 2 0 0 1 2 2v11a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V5" +
      "a2 2 0 0 1 2-2zm3 6.5a1.5 1.5 0 1 0 0 .01zm5 0a1.5 1.5 0 1 0 0 .01zm5 0a1.5 1.5 0 1 0 0 .01z");
    svg.appendChild(path);
    return svg;
  }

  function link(path) {
    return new URL(String(path).replace(/^\//, ""), base).href;
  }

  // The shadow root holds everything the widget draws.
  var host = el("div", { id: "imon-chat-widget" });
  host.style.cssText = "all: initial; position: static;";
  var root = host.attachShadow({ mode: "open" });
  root.appendChild(el("style", {}, CSS));

  var launcher = el("button", { "class": "launcher", type: "button", "aria-label": title,
    title: title, part: "launcher" });
  launcher.appendChild(bubbleIcon());
  var panel = el("section", { "class": "panel", role: "dialog", "aria-label": title });
  var head = el("div", { "class": "head" }, title);
  var close = el("button", { type: "button", "aria-label": "close" }, "\u00D7");
  head.appendChild(close);
  var log = el("div", { "class": "log", "aria-live": "polite" });
  var form = el("form", { autocomplete: "off" });
  var input = el("input", { name: "question", maxlength: "2000",
    placeholder: "e.g. which anomalies happened yesterday?" });
  var send = el("button", { type: "submit" }, "Ask");
  form.append(input, send);
  panel.append(head, log, form);
  root.append(panel, launcher);

  function setOpen(open) {
    panel.classList.toggle("open", open);
    if (open) { input.focus(); dismissToast(); }
  }
  launcher.addEventListener("click", function () { setOpen(!panel.classList.contains("open")); });
  close.addEventListener("click", function () { setOpen(false); });

  function say(kind, text) {
    var node = el("div", { "class": "msg " + kind }, text);
    log.appendChild(node);
    log.scrollTop = log.scrollHeight;
    return node;
  }

  function citedList(anomalies) {
    var list = el("ul", { "class": "cited" });
    anomalies.forEach(function (a) {
      var item = el("li");
      var anchor = el("a", { href: link("dashboard/anomalies/" + encodeURIComponent(a.id)),
        target: "_blank", rel: "noopener", "class": "anomaly-link" }, "#" + a.id);
      var end = a.ongoing ? "ongoing" : a.end;
      item.append(anchor, " " + a.satellite + " / " + a.channel + ": " + a.kind + " (" +
        a.severity + "), " + a.start + " \u2192 " + end);
      list.appendChild(item);
    });
    return list;
  }

  function showAnswer(result) {
    var node = say("bot", result.answer);
    node.classList.add("answer");
    if (result.anomalies && result.anomalies.length) {
      node.appendChild(citedList(result.anomalies));
    }
    if (result.plot_url) {
      node.appendChild(el("img", { "class": "plot", src: link(result.plot_url),
        alt: "plot of the cited anomaly", loading: "lazy" }));
    }
    log.scrollTop = log.scrollHeight;
  }

  function errorText(status, body) {
    if (body && Array.isArray(body.detail)) {
      return body.detail.map(function (d) { return d.msg; }).join("; ");
    }
    if (body && body.detail) { return String(body.detail); }
    return "The service answered " + status + ".";
  }

  function headers() {
    var h = { "Content-Type": "application/json", "Accept": "application/json" };
    if (apiKey) { h["X-API-Key"] = apiKey; }
    return h;
  }

  async function ask(question) {
    var payload = { question: question };
    var conversation = sessionStorage.getItem(storeKey);
    if (conversation) { payload.conversation_id = conversation; }
    var response = await fetch(link("ask"), {
      method: "POST", headers: headers(), body: JSON.stringify(payload)
    });
    var body = null;
    try { body = await response.json(); } catch (e) { body = null; }
    if (!response.ok) { throw new Error(errorText(response.status, body)); }
    if (body.conversation_id) { sessionStorage.setItem(storeKey, body.conversation_id); }
    return body;
  }

  form.addEventListener("submit", async function (event) {
    event.preventDefault();
    var question = input.value.trim();
    if (!question) { return; }
    say("user", question);
    input.value = "";
    send.disabled = true;
    var waiting = say("bot", "\u2026");
    try {
      var result = await ask(question);
      waiting.remove();
      showAnswer(result);
    } catch (error) {
      waiting.remove();
      say("error", error.message || "The service could not be reached.");
    } finally {
      send.disabled = false;
      input.focus();
    }
  });

  // Proactive messages: incidents and widget messages from GET /stream, one per incident
  // and severity (or closing), so updates of the same incident do not pile up.
  var toast = null;
  var seen = {};

  function dismissToast() {
    if (toast) { toast.remove(); toast = null; }
  }

  function popup(key, heading, text, url) {
    if (seen[key]) { return; }
    seen[key] = true;
    var entry = say("push", heading + "\n" + text);
    if (url) {
      entry.appendChild(el("br"));
      entry.appendChild(el("a", { href: url, target: "_blank", rel: "noopener" }, "details"));
    }
    if (panel.classList.contains("open")) { return; }
    dismissToast();
    toast = el("div", { "class": "toast", role: "alert" });
    toast.append(el("strong", {}, heading), el("span", {}, text));
    toast.addEventListener("click", function () { setOpen(true); });
    root.appendChild(toast);
  }

  function incidentKey(incident) {
    return incident.id + ":" + (incident.status === "closed" ? "closed" : incident.severity);
  }

  function onIncident(event) {
    var incident = JSON.parse(event.data);
    var channels = (incident.channels || []).map(function (c) { return c.name; }).join(", ");
    var text = incident.status === "closed"
      ? "closed: " + incident.start + " \u2192 " + incident.end
      : incident.severity + " since " + incident.start + (channels ? " on " + channels : "");
    popup(incidentKey(incident), incident.satellite + ": incident #" + incident.id, text,
      link(incident.dashboard_url || "dashboard/incidents/" + incident.id));
  }

  function onMessage(event) {
    var message = JSON.parse(event.data);
    var payload = message.payload || {};
    var incident = payload.incident;
    if (message.channel !== "widget" || !incident) { return; }
    popup(incidentKey(incident), incident.satellite + ": incident #" + incident.id,
      payload.summary || "", link("dashboard/incidents/" + incident.id));
  }

  // EventSource cannot send the key header: the stream opens with a signed, expiring link
  // asked for with the key; when the stream closes (the link expired), ask for a new one.
  var retryMs = 2000;

  async function streamLink() {
    var response = await fetch(link("stream/link"), { method: "POST", headers: headers() });
    if (!response.ok) { throw new Error("stream link: " + response.status); }
    return (await response.json()).url;
  }

  async function listen() {
    if (typeof EventSource === "undefined") { return; }
    var url;
    try {
      url = await streamLink();
    } catch (error) {
      host.setAttribute("data-stream", "closed");
      setTimeout(listen, retryMs = Math.min(retryMs * 2, 300000));
      return;
    }
    var source = new EventSource(link(url));
    source.addEventListener("incident", onIncident);
    source.addEventListener("message", onMessage);
    source.addEventListener("ready", function () {
      retryMs = 2000;
      host.setAttribute("data-stream", "ready");
    });
    source.addEventListener("error", function () {
      if (source.readyState === EventSource.CLOSED) {
        host.setAttribute("data-stream", "closed");
        setTimeout(listen, retryMs = Math.min(retryMs * 2, 300000));
      }
    });
  }

  function start() {
    document.body.appendChild(host);
    if (script.getAttribute("data-open") === "true") { setOpen(true); }
    listen();
  }

  if (document.body) { start(); } else { document.addEventListener("DOMContentLoaded", start); }
})();
