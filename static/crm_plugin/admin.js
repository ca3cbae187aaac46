/* crm_plugin admin tab: the bot form (platform fields, the "Проверить" button). No framework needed. */
(function () {
  "use strict";
  var form = document.getElementById("crm-bot-form");
  if (!form) { return; }
  var select = form.querySelector("select[name=platform]");
  var result = document.getElementById("crm-check-result");

  function currentPlatform() {
    if (select) { return select.value; }
    var shown = document.getElementById("crm-bot-platform");
    return shown ? shown.getAttribute("data-platform") : "";
  }

  function showPlatformFields() {
    var platform = currentPlatform();
    form.querySelectorAll("fieldset.crm-credentials").forEach(function (set) {
      var mine = set.getAttribute("data-platform") === platform;
      set.hidden = !mine;
      set.disabled = !mine;  // other platforms' fields are not posted
    });
  }

  function say(text, ok) {
    result.textContent = text;
    result.className = "ml-2 " + (ok ? "ok" : "error");
  }

  function fill(name, value) {
    var input = form.querySelector("[name=" + name + "]");
    if (input && value !== undefined && value !== null) { input.value = value; }
  }

  function check() {
    say(form.getAttribute("data-checking"), true);
    fetch(form.getAttribute("data-check-url"), {
      method: "POST", body: new FormData(form), credentials: "same-origin",
      headers: {"Accept": "application/json"}
    }).then(function (response) {
      return response.json();
    }).then(function (data) {
      if (!data.ok) { say(data.error, false); return; }
      fill("platform_bot_id", data.id);
      fill("username", data.username);
      var name = form.querySelector("[name=name]");
      if (name && !name.value) { name.value = data.name; }
      say("✓ " + data.name + " (" + data.id + ")", true);
    }).catch(function () {
      say(form.getAttribute("data-offline"), false);
    });
  }

  if (select) { select.addEventListener("change", showPlatformFields); }
  document.getElementById("crm-check").addEventListener("click", check);
  showPlatformFields();
})();
