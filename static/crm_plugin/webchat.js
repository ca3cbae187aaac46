/* The "Попробовать бота" chat page: talks to crm_plugin.webchat_routes and polls the web bot's log. */
(function () {
  "use strict";

  var POLL_MS = 1000;
  var HIDDEN_POLL_MS = 5000;  // a tab in the background asks less often
  var root = document.getElementById("webchat");
  if (!root) { return; }
  var api = {
    session: root.dataset.apiSession, messages: root.dataset.apiMessages,
    send: root.dataset.apiSend, upload: root.dataset.apiUpload
  };
  var csrfMeta = document.querySelector('meta[name="csrf-token"]');
  var csrf = csrfMeta ? csrfMeta.getAttribute("content") : "";
  var el = function (id) { return document.getElementById(id); };
  var log = el("webchat-log"), empty = el("webchat-empty"), text = el("webchat-text");
  var files = el("webchat-files"), locationPanel = el("webchat-location");

  var userId = null;      // the chosen employee's CRM id
  var after = 0;          // the poll cursor the server gave
  var generation = 0;     // bumps on each employee change, so a late answer for the previous one is dropped
  var timer = null, polling = false;
  var follow = true;      // keep the newest message in view unless the admin scrolled up to read
  var shown = {};

  function request(url, options) {
    return fetch(url, Object.assign({credentials: "same-origin"}, options)).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (body) {
        if (response.status === 413) { throw new Error("Файлы слишком большие: не больше 20 МБ каждый."); }
        if (!response.ok) { throw new Error(body.error || "Ошибка " + response.status + ": обновите страницу."); }
        return body;
      });
    });
  }

  function post(url, body) {
    return request(url, {method: "POST", body: JSON.stringify(body),
                         headers: {"Content-Type": "application/json", "X-CSRFToken": csrf}});
  }

  function showError(message) {
    var box = el("webchat-error");
    box.textContent = message || "";
    box.hidden = !message;
  }

  function showNotice(message) {
    var box = el("webchat-notice");
    box.textContent = message || "";
    box.hidden = !message;
  }

  function setEnabled(on) {
    ["webchat-text", "webchat-send", "webchat-attach", "webchat-location-toggle"].forEach(function (id) {
      el(id).disabled = !on;
    });
  }

  // Feather icons (MIT), drawn inline: emoji fonts are not on every machine.
  var ICONS = {
    pin: ["M21 10c0 7-9 13-9 13s-9-6-9-13a9 9 0 0 1 18 0z", "M12 7a3 3 0 1 0 0 6a3 3 0 1 0 0-6z"],
    phone: ["M22 16.92v3a2 2 0 0 1-2.18 2 19.79 19.79 0 0 1-8.63-3.07 19.5 19.5 0 0 1-6-6 19.79 19.79 0 0 1-3.07" +
            "-8.67A2 2 0 0 1 4.11 2h3a2 2 0 0 1 2 1.72 12.84 12.84 0 0 0 .7 2.81 2 2 0 0 1-.45 2.11L8.09 9.91a16 " +
            "16 0 0 0 6 6l1.27-1.27a2 2 0 0 1 2.11-.45 12.84 12.84 0 0 0 2.81.7A2 2 0 0 1 22 16.92z"],
    file: ["M13 2H6a2 2 0 0 0-2 2v16a2 2 0 0 0 2 2h12a2 2 0 0 0 2-2V9z", "M13 2v7h7"],
    link: ["M18 13v6a2 2 0 0 1-2 2H5a2 2 0 0 1-2-2V8a2 2 0 0 1 2-2h6", "M15 3h6v6", "M10 14L21 3"],
    alert: ["M12 2a10 10 0 1 0 0 20a10 10 0 1 0 0-20z", "M12 8v4", "M12 16h.01"]
  };

  function icon(name) {
    var ns = "http://www.w3.org/2000/svg";
    var svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("class", "webchat-svg");
    svg.setAttribute("aria-hidden", "true");
    ICONS[name].forEach(function (d) {
      var path = document.createElementNS(ns, "path");
      path.setAttribute("d", d);
      svg.appendChild(path);
    });
    return svg;
  }

  function withIcon(tag, className, name, content) {
    var item = node(tag, className);
    item.appendChild(icon(name));
    item.appendChild(document.createTextNode(" " + content));
    return item;
  }

  function node(tag, className, content) {
    var item = document.createElement(tag);
    if (className) { item.className = className; }
    if (content !== undefined && content !== null) { item.textContent = content; }
    return item;
  }

  // --- drawing the log ---------------------------------------------------------------------------

  function fileNode(file) {
    var link = node("a", file.chart ? "webchat-photo webchat-chart" : file.image ? "webchat-photo" : "webchat-doc");
    link.href = file.url;
    link.target = "_blank";
    link.rel = "noopener";
    if (file.image) {
      var image = node("img");
      image.src = file.url;
      image.alt = file.name;
      image.addEventListener("load", keepInView);  // a photo grows the log after it was drawn
      link.appendChild(image);
    } else {
      link.appendChild(icon("file"));
      link.appendChild(document.createTextNode(" " + file.name));
      link.setAttribute("download", file.name);
    }
    return link;
  }

  function locationNode(place) {
    var box = node("div", "webchat-place");
    box.appendChild(withIcon("div", null, "pin", (place.title ? place.title + ": " : "") +
                             place.latitude.toFixed(5) + ", " + place.longitude.toFixed(5)));
    var link = node("a", null, "Открыть на карте");
    link.href = place.url;
    link.target = "_blank";
    link.rel = "noopener";
    box.appendChild(link);
    return box;
  }

  function buttonNode(button) {
    if (button.kind === "url") {
      var link = withIcon("a", "webchat-button", "link", button.label);
      if (button.url) { link.href = button.url; link.target = "_blank"; link.rel = "noopener"; }
      return link;
    }
    var item = button.kind === "request_contact" ? withIcon("button", "webchat-button", "phone", button.label) :
      button.kind === "request_location" ? withIcon("button", "webchat-button", "pin", button.label) :
      node("button", "webchat-button", button.label);
    item.type = "button";
    item.addEventListener("click", function () {
      if (button.kind === "payload") { send({type: "button", payload: button.payload, label: button.label}); }
      else if (button.kind === "request_contact") { send({type: "contact"}); }
      else if (button.kind === "request_location") { openLocation(); }
    });
    return item;
  }

  function bubbleBody(message) {
    var parts = document.createDocumentFragment();
    if (message.files) {
      var gallery = node("div", "webchat-files");
      message.files.forEach(function (file) { gallery.appendChild(fileNode(file)); });
      parts.appendChild(gallery);
    }
    var words = message.text || message.caption;
    if (words && message.contact) { parts.appendChild(withIcon("div", "webchat-text", "phone", words)); }
    else if (words) { parts.appendChild(node("div", "webchat-text", words)); }
    if (message.location) { parts.appendChild(locationNode(message.location)); }
    if (message.error) { parts.appendChild(withIcon("div", "webchat-failed", "alert", message.error)); }
    return parts;
  }

  function draw(message) {
    if (shown[message.id]) { return; }
    shown[message.id] = true;
    empty.hidden = true;
    // The photos of one album share a bubble.
    if (message.group) {
      var album = log.querySelector('[data-group="' + message.group + '"] .webchat-files');
      if (album) { message.files.forEach(function (f) { album.appendChild(fileNode(f)); }); return; }
    }
    var row = node("div", "webchat-row webchat-" + message.direction);
    row.dataset.id = message.id;
    if (message.group) { row.dataset.group = message.group; }
    var bubble = node("div", "webchat-bubble" + (message.pressed ? " webchat-pressed" : ""));
    bubble.appendChild(bubbleBody(message));
    bubble.appendChild(node("div", "webchat-time", new Date(message.time).toLocaleTimeString("ru-RU",
                                                                {hour: "2-digit", minute: "2-digit"})));
    row.appendChild(bubble);
    // A keyboard takes the row's whole width, as in a messenger: labels wrap less on a phone.
    if ((message.buttons || []).length) { row.classList.add("webchat-keyboard"); }
    (message.buttons || []).forEach(function (buttons) {
      var line = node("div", "webchat-buttons");
      buttons.forEach(function (button) { line.appendChild(buttonNode(button)); });
      row.appendChild(line);
    });
    // Rows stay in id order even when a reply shows up after a later message.
    var next = Array.prototype.find.call(log.querySelectorAll(".webchat-row"), function (other) {
      return Number(other.dataset.id) > message.id;
    });
    log.insertBefore(row, next || null);
  }

  function keepInView() {
    if (follow) { log.scrollTop = log.scrollHeight; }
  }

  log.addEventListener("scroll", function () {
    follow = log.scrollHeight - log.scrollTop - log.clientHeight < 80;
  });

  // --- polling -------------------------------------------------------------------------------------

  function schedule(delay) {
    clearTimeout(timer);
    timer = setTimeout(poll, delay);
  }

  function poll() {
    if (userId === null) { return; }
    if (polling) { schedule(POLL_MS); return; }
    polling = true;
    var mine = generation;
    request(api.messages + "?user=" + encodeURIComponent(userId) + "&after=" + after).then(function (page) {
      if (mine !== generation) { return; }
      page.messages.forEach(draw);
      after = page.after;
      el("webchat-typing").hidden = !page.busy;
      el("webchat-start").hidden = log.querySelector(".webchat-row") !== null;
      if (page.messages.length) { keepInView(); }
    }).catch(function (error) {
      if (mine === generation) { showError(error.message); }
    }).then(function () {
      polling = false;
      if (mine === generation) { schedule(document.hidden ? HIDDEN_POLL_MS : POLL_MS); }
    });
  }

  // --- actions -------------------------------------------------------------------------------------

  function send(event) {
    if (userId === null) { return Promise.resolve(); }
    showError("");
    event.user_id = userId;
    follow = true;
    el("webchat-typing").hidden = false;
    return post(api.send, event).then(function () { schedule(0); }).catch(function (error) {
      showError(error.message);
      throw error;
    });
  }

  function choose(id) {
    generation += 1;
    clearTimeout(timer);
    userId = id ? Number(id) : null;
    after = 0;
    shown = {};
    Array.prototype.slice.call(log.querySelectorAll(".webchat-row")).forEach(function (row) { row.remove(); });
    empty.hidden = false;
    el("webchat-start").hidden = true;
    el("webchat-typing").hidden = true;
    showError("");
    showNotice("");
    setEnabled(false);
    if (userId === null) {
      el("webchat-empty-text").textContent = "Выберите сотрудника, чтобы начать разговор с ботом.";
      return;
    }
    var mine = generation;
    post(api.session, {user_id: userId}).then(function (session) {
      if (mine !== generation) { return; }
      showNotice(session.notice);
      el("webchat-empty-text").textContent = "Вы пишете боту как " + session.user.name +
        ". Нажмите «Начать» или напишите сообщение.";
      setEnabled(true);
      text.focus();
      poll();
    }).catch(function (error) { showError(error.message); });
  }

  function openLocation() {
    locationPanel.hidden = false;
    el("webchat-lat").focus();
  }

  document.addEventListener("visibilitychange", function () {
    if (!document.hidden && userId !== null) { schedule(0); }
  });
  el("webchat-employee").addEventListener("change", function (e) { choose(e.target.value); });
  el("webchat-start").addEventListener("click", function () { send({type: "start"}); });

  el("webchat-form").addEventListener("submit", function (e) {
    e.preventDefault();
    var value = text.value.trim();
    if (!value) { showError("Напишите сообщение."); return; }
    send({type: "text", text: value}).then(function () { text.value = ""; }, function () {});
  });

  el("webchat-attach").addEventListener("click", function () { files.click(); });
  files.addEventListener("change", function () {
    if (!files.files.length || userId === null) { return; }
    var form = new FormData();
    form.append("user_id", userId);
    form.append("caption", text.value.trim());
    Array.prototype.forEach.call(files.files, function (file) { form.append("files", file, file.name); });
    showError("");
    follow = true;
    request(api.upload, {method: "POST", body: form, headers: {"X-CSRFToken": csrf}}).then(function () {
      text.value = "";
      schedule(0);
    }).catch(function (error) { showError(error.message); }).then(function () { files.value = ""; });
  });

  el("webchat-location-toggle").addEventListener("click", function () {
    if (locationPanel.hidden) { openLocation(); } else { locationPanel.hidden = true; }
  });
  el("webchat-location-close").addEventListener("click", function () { locationPanel.hidden = true; });
  el("webchat-geo").addEventListener("click", function () {
    if (!navigator.geolocation) { showError("Браузер не знает местоположение: введите координаты вручную."); return; }
    navigator.geolocation.getCurrentPosition(function (position) {
      el("webchat-lat").value = position.coords.latitude.toFixed(6);
      el("webchat-lon").value = position.coords.longitude.toFixed(6);
    }, function () { showError("Браузер не дал местоположение: введите координаты вручную."); },
    {timeout: 10000});
  });
  el("webchat-location-send").addEventListener("click", function () {
    var latitude = el("webchat-lat").value.replace(",", "."), longitude = el("webchat-lon").value.replace(",", ".");
    send({type: "location", latitude: latitude, longitude: longitude}).then(function () {
      locationPanel.hidden = true;
    }, function () {});
  });
}());
