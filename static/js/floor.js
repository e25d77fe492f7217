// The operators' tablet page: scan → card → big buttons, with an offline queue of presses.
//
// Every press gets a UUID the moment its button is pressed and goes through one queue kept in localStorage:
// the queue is sent in order, a network failure (offline, timeout, 5xx) leaves the press queued and it is sent
// again when the browser is back online (and every few seconds), and an answer from the server (2xx, or 4xx
// with a FloorError) removes it. A press sent twice is harmless: the server answers a repeated UUID with the
// first answer. Presses remember who pressed them and are only sent while that operator is signed in, so a
// shared tablet never credits one operator's work to the next.
// Plain ES2017 for the in-app browsers of WeCom and DingTalk; no framework, nothing from a CDN.
(function () {
  "use strict";
  var root = document.getElementById("floor");
  if (!root) return;

  var QUEUE_KEY = "loopline.floor.queue.v1";
  var RETRY_MS = 10000;
  var TIMEOUT_MS = 10000;
  var PHOTO_MAX_SIDE = 1600;

  var strings = document.getElementById("floor-strings").dataset;
  var config = JSON.parse(document.getElementById("floor-config").textContent);
  var operator = root.dataset.operator;
  var view = document.getElementById("floor-view");
  var scanForm = document.getElementById("floor-scan");
  var scanField = document.getElementById("floor-code");
  var message = document.getElementById("floor-message");
  var pendingBadge = document.getElementById("floor-pending");
  var othersNote = document.getElementById("floor-others");
  var photoInput = document.getElementById("floor-photo");
  var photoPreview = document.getElementById("floor-photo-preview");
  var touchFirst = window.matchMedia && window.matchMedia("(hover: none)").matches;

  function format(text, values) {
    return text.replace(/%\((\w+)\)s/g, function (whole, key) {
      return values[key] === undefined ? whole : String(values[key]);
    });
  }

  // crypto.randomUUID only exists on HTTPS or localhost; factory intranets often serve plain HTTP.
  function newUuid() {
    if (window.crypto && typeof window.crypto.randomUUID === "function") {
      try { return window.crypto.randomUUID(); } catch (e) { /* insecure context: fall through */ }
    }
    var bytes = new Uint8Array(16);
    if (window.crypto && window.crypto.getRandomValues) {
      window.crypto.getRandomValues(bytes);
    } else {
      for (var i = 0; i < 16; i++) bytes[i] = Math.floor(Math.random() * 256);
    }
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    var hex = Array.prototype.map.call(bytes, function (b) { return (b + 0x100).toString(16).slice(1); }).join("");
    return hex.slice(0, 8) + "-" + hex.slice(8, 12) + "-" + hex.slice(12, 16) + "-" + hex.slice(16, 20) + "-" + hex.slice(20);
  }

  function csrfToken() {
    var match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    if (match) return decodeURIComponent(match[1]);
    var field = document.querySelector("input[name=csrfmiddlewaretoken]");
    return field ? field.value : "";
  }

  // ---- Messages -------------------------------------------------------------------------------------------

  function showMessage(text, kind, append) {
    if (!text) return;
    if (!append || message.hidden) message.innerHTML = "";
    var line = document.createElement("p");
    line.textContent = text;
    message.appendChild(line);
    while (message.childNodes.length > 4) message.removeChild(message.firstChild);
    message.className = "floor-message " + kind;
    message.hidden = false;
  }

  // ---- The queue ------------------------------------------------------------------------------------------

  var memoryQueue = [];
  var unsavedPhotos = {}; // photos too big for localStorage stay in memory until sent

  function loadQueue() {
    try {
      var raw = window.localStorage.getItem(QUEUE_KEY);
      return raw ? JSON.parse(raw) : [];
    } catch (e) {
      return memoryQueue.slice();
    }
  }

  function saveQueue(queue) {
    memoryQueue = queue.slice();
    try {
      window.localStorage.setItem(QUEUE_KEY, JSON.stringify(queue));
    } catch (e) {
      // Storage full (photos are large): keep the presses, and their photos in memory only.
      var light = queue.map(function (entry) {
        if (!entry.photo) return entry;
        unsavedPhotos[entry.id] = entry.photo;
        var copy = Object.assign({}, entry);
        copy.photo = null;
        return copy;
      });
      try { window.localStorage.setItem(QUEUE_KEY, JSON.stringify(light)); } catch (e2) { /* memory only */ }
    }
  }

  function mine(entry) { return String(entry.operator) === String(operator); }

  function removeEntry(id) {
    saveQueue(loadQueue().filter(function (entry) { return entry.id !== id; }));
    delete unsavedPhotos[id];
  }

  function updateBadge() {
    var queue = loadQueue();
    var count = queue.filter(mine).length;
    var others = queue.length - count;
    pendingBadge.dataset.count = String(count);
    pendingBadge.hidden = count === 0;
    pendingBadge.textContent = count === 1 ? strings.waitingOne : format(strings.waitingMany, { count: count });
    othersNote.hidden = others === 0;
    othersNote.textContent = format(strings.waitingOthers, { count: others });
  }

  function dataUrlToBlob(dataUrl) {
    var parts = dataUrl.split(",");
    var type = (parts[0].match(/:(.*?);/) || [null, "image/jpeg"])[1];
    var binary = atob(parts[1]);
    var bytes = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    return new Blob([bytes], { type: type });
  }

  function photoOf(entry) {
    var photo = entry.photo || unsavedPhotos[entry.id];
    if (!photo) return null;
    return typeof photo === "string" ? dataUrlToBlob(photo) : photo;
  }

  function fetchWithTimeout(url, options) {
    if (!window.AbortController) return fetch(url, options);
    var controller = new AbortController();
    var timer = setTimeout(function () { controller.abort(); }, TIMEOUT_MS);
    options.signal = controller.signal;
    return fetch(url, options).then(
      function (response) { clearTimeout(timer); return response; },
      function (error) { clearTimeout(timer); throw error; }
    );
  }

  // One attempt: "answered" (remove it), "retry" (network trouble), or "refused" (signed out, no FloorError).
  function send(entry) {
    var headers = { "X-CSRFToken": csrfToken(), Accept: "application/json" };
    var body;
    var photo = photoOf(entry);
    if (photo) {
      body = new FormData();
      Object.keys(entry.fields).forEach(function (key) { body.append(key, entry.fields[key]); });
      body.append("photo", photo, entry.photoName || "photo.jpg");
    } else {
      headers["Content-Type"] = "application/json";
      body = JSON.stringify(entry.fields);
    }
    var options = { method: "POST", headers: headers, body: body, credentials: "same-origin" };
    return fetchWithTimeout(entry.url, options).then(function (response) {
      var type = response.headers.get("Content-Type") || "";
      if (response.status >= 500) return { kind: "retry" };
      if (response.redirected || type.indexOf("application/json") === -1) {
        return { kind: "refused", status: response.status, signedOut: response.redirected };
      }
      return response.json().then(function (answer) {
        if (response.ok || (response.status < 500 && answer && answer.error)) {
          return { kind: "answered", ok: response.ok, answer: answer };
        }
        return { kind: "refused", status: response.status };
      }, function () { return { kind: "retry" }; });
    }, function () { return { kind: "retry" }; });
  }

  var flushing = null;

  // Sends this operator's presses in the order they were pressed; stops at the first one that cannot go.
  function flush() {
    if (flushing) return flushing;
    var answered = 0;
    function next() {
      var entry = loadQueue().filter(mine)[0];
      if (!entry) return Promise.resolve({ stopped: null });
      return send(entry).then(function (outcome) {
        if (outcome.kind !== "answered") return { stopped: entry, outcome: outcome };
        removeEntry(entry.id);
        updateBadge();
        showAnswer(entry, outcome, answered > 0);
        answered += 1;
        return next();
      });
    }
    flushing = next().then(function (state) {
      flushing = null;
      updateBadge();
      if (state.stopped && state.outcome.kind === "refused") {
        var outcome = state.outcome;
        showMessage(outcome.signedOut ? strings.signedOut : format(strings.refused, { status: outcome.status }), "bad");
        // Signed out (the session ended): back to the badge sign-in; the presses wait for this operator.
        if (outcome.signedOut) setTimeout(function () { window.location.href = root.dataset.loginUrl; }, 2500);
      }
      markQueuedOnCard();
      return state;
    }, function () {
      flushing = null;
      updateBadge();
      return { stopped: true };
    });
    return flushing;
  }

  function showAnswer(entry, outcome, append) {
    var answer = outcome.answer || {};
    showMessage(answer.message, outcome.ok ? "ok" : "bad", append);
    var card = currentCard();
    if (answer.card_html && card && card.dataset.code === entry.code) replaceView(answer.card_html);
  }

  // A press: queued at once with its UUID, then the queue is sent.
  function submitPress(entry, optimistic) {
    attachPendingPhoto(entry);
    var queue = loadQueue();
    queue.push(entry);
    saveQueue(queue);
    updateBadge();
    var card = currentCard();
    if (card) setBusy(card, true);
    return flush().then(function (state) {
      var stillQueued = loadQueue().some(function (queued) { return queued.id === entry.id; });
      var now = currentCard();
      if (now) setBusy(now, false);
      if (stillQueued) {
        var refused = state && state.outcome && state.outcome.kind === "refused";
        if (!refused) showMessage(strings.queued, "wait");
        if (now && now.dataset.code === entry.code && optimistic) optimistic(now);
        markQueuedOnCard();
      }
    });
  }

  function pressOperation(action, fields) {
    var card = currentCard();
    if (!card) return;
    var id = newUuid();
    var entry = {
      id: id,
      url: root.dataset.pressUrl,
      operator: operator,
      code: card.dataset.code,
      label: actionLabel(action),
      createdAt: Date.now(),
      fields: Object.assign({
        operation_code: card.dataset.code,
        action: action,
        client_uuid: id,
        client_at: new Date().toISOString()
      }, fields || {})
    };
    return submitPress(entry, function (target) {
      // Offline: move the card on as the server will, so the operator can keep working.
      var after = (config.transitions[action] || {})[target.dataset.status];
      if (after) setStatus(target, after);
    });
  }

  function pressDowntime(action, reason) {
    var card = currentCard();
    if (!card) return;
    var id = newUuid();
    var entry = {
      id: id,
      url: root.dataset.downtimeUrl,
      operator: operator,
      code: card.dataset.code,
      label: action === "start" ? buttonLabel(card, "downtime") : buttonLabel(card, "downtime-end"),
      createdAt: Date.now(),
      fields: {
        work_center_code: card.dataset.workCenter,
        operation_code: card.dataset.code,
        action: action,
        reason: reason || "",
        client_uuid: id
      }
    };
    if (action === "end") entry.keepPhoto = true; // ending a stop takes no photo; keep it for the next press
    return submitPress(entry, function (target) {
      target.dataset.down = action === "start" ? "1" : "";
      applyButtons(target);
    });
  }

  function markQueuedOnCard() {
    var card = currentCard();
    if (!card) return;
    var note = card.querySelector("[data-card-pending]");
    if (!note) return;
    var labels = loadQueue().filter(function (entry) { return mine(entry) && entry.code === card.dataset.code; })
      .map(function (entry) { return entry.label; });
    note.hidden = labels.length === 0;
    note.textContent = strings.notSent + " " + labels.join(", ");
  }

  // ---- The card -------------------------------------------------------------------------------------------

  function currentCard() { return document.getElementById("floor-card"); }

  function buttonLabel(card, action) {
    var button = card.querySelector("[data-action='" + action + "']");
    return button ? button.textContent.trim() : action;
  }

  function actionLabel(action) {
    var card = currentCard();
    return card ? buttonLabel(card, action) : action;
  }

  function setStatus(card, status) {
    card.dataset.status = status;
    var badge = card.querySelector("[data-status-label]");
    if (badge) {
      badge.textContent = config.statuses[status] || status;
      badge.className = "floor-status status-" + status;
    }
    applyButtons(card);
  }

  // Only the buttons the state machine allows in the current status are enabled.
  function applyButtons(card) {
    var status = card.dataset.status;
    var closed = card.dataset.closed === "1";
    var down = card.dataset.down === "1";
    Object.keys(config.transitions).forEach(function (action) {
      var button = card.querySelector("[data-action='" + action + "']");
      if (button) button.disabled = closed || !config.transitions[action][status];
    });
    var stop = card.querySelector("[data-action='downtime']");
    var restart = card.querySelector("[data-action='downtime-end']");
    if (stop) stop.hidden = down;
    if (restart) restart.hidden = !down;
  }

  function setBusy(card, busy) {
    card.classList.toggle("busy", busy);
    card.setAttribute("aria-busy", busy ? "true" : "false");
  }

  function replaceView(html) {
    view.innerHTML = html;
    var card = currentCard();
    if (card) {
      applyQueued(card);
      markQueuedOnCard();
    }
  }

  // The server's card does not know the presses still waiting here: play them on it, so the buttons match.
  function applyQueued(card) {
    loadQueue().forEach(function (entry) {
      if (!mine(entry) || entry.code !== card.dataset.code) return;
      if (entry.url === root.dataset.downtimeUrl) {
        card.dataset.down = entry.fields.action === "start" ? "1" : "";
        return;
      }
      var after = (config.transitions[entry.fields.action] || {})[card.dataset.status];
      if (after) setStatus(card, after);
    });
    applyButtons(card);
  }

  function openCode(code) {
    code = (code || "").trim().toUpperCase();
    if (!code) return Promise.resolve();
    showMessage(strings.loading, "info");
    var url = root.dataset.scanUrl + "?code=" + encodeURIComponent(code);
    return fetchWithTimeout(url, { credentials: "same-origin", headers: { Accept: "text/html" } }).then(function (response) {
      if (response.redirected && response.url.indexOf(root.dataset.scanUrl) === -1) {
        window.location.href = response.url; // signed out: the badge sign-in, which comes back to this code
        return;
      }
      return response.text().then(function (html) {
        if (response.status >= 500) throw new Error(String(response.status));
        message.hidden = true;
        replaceView(html);
        if (response.ok && window.history && window.history.replaceState) {
          window.history.replaceState(null, "", root.dataset.pageUrl + "?code=" + encodeURIComponent(code));
        }
      });
    }).catch(function () {
      showMessage(strings.offlineScan, "bad");
    });
  }

  scanForm.addEventListener("submit", function (event) {
    event.preventDefault();
    var code = scanField.value;
    scanField.value = "";
    // On a touch tablet keep the on-screen keyboard out of the way; a scanner still reaches the field (below).
    if (touchFirst) scanField.blur(); else scanField.focus();
    openCode(code);
  });

  // A USB or Bluetooth scanner is a keyboard: if it types while no field has focus, send the keys to the scan field.
  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || !event.key || event.key.length !== 1 || event.key === " ") return;
    var target = event.target;
    if (target && (target.tagName === "INPUT" || target.tagName === "TEXTAREA" || target.tagName === "SELECT" || target.isContentEditable)) return;
    if (openPanel) return;
    event.preventDefault();
    scanField.value = event.key;
    scanField.focus();
  });

  view.addEventListener("click", function (event) {
    var opener = event.target.closest("[data-open-code]");
    if (opener) {
      openCode(opener.dataset.openCode);
      return;
    }
    var button = event.target.closest("button[data-action]");
    if (!button || button.disabled) return;
    var action = button.dataset.action;
    if (action === "start" || action === "resume") pressOperation(action);
    else if (action === "pause") showPanel("panel-pause");
    else if (action === "report" || action === "complete") openQtyPanel(action);
    else if (action === "downtime") showPanel("panel-downtime");
    else if (action === "downtime-end") pressDowntime("end");
  });

  view.addEventListener("keydown", function (event) {
    // The photo "button" is a label for the file input; make Enter work on it as on a real button.
    if (event.key === "Enter" && event.target.matches && event.target.matches("label[data-action=photo]")) {
      event.preventDefault();
      photoInput.click();
    }
  });

  // ---- Panels ---------------------------------------------------------------------------------------------

  var openPanel = null;

  function showPanel(id) {
    closePanel();
    openPanel = document.getElementById(id);
    openPanel.hidden = false;
    var first = openPanel.querySelector("button");
    if (first && !touchFirst) first.focus();
  }

  function closePanel() {
    if (!openPanel) return;
    openPanel.hidden = true;
    if (openPanel.id === "panel-camera") stopCamera();
    openPanel = null;
  }

  document.querySelectorAll(".floor-panel").forEach(function (panel) {
    panel.addEventListener("click", function (event) {
      if (event.target === panel || event.target.closest("[data-close]")) closePanel();
    });
  });
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape") closePanel();
  });

  document.getElementById("panel-pause").addEventListener("click", function (event) {
    var button = event.target.closest("[data-reason]");
    if (!button) return;
    closePanel();
    pressOperation("pause", { reason: button.dataset.reason });
  });

  document.getElementById("panel-downtime").addEventListener("click", function (event) {
    var button = event.target.closest("[data-downtime-reason]");
    if (!button) return;
    closePanel();
    pressDowntime("start", button.dataset.downtimeReason);
  });

  // The number pad for Report and Complete.
  var qtyPanel = document.getElementById("panel-qty");
  var qtyInputs = {};
  qtyPanel.querySelectorAll("input[data-qty]").forEach(function (input) { qtyInputs[input.dataset.qty] = input; });
  var activeQty = qtyInputs.good;
  var qtyMode = "report";
  var scrapReason = "";
  var scrapBox = document.getElementById("panel-qty-scrap");

  function setActiveQty(input) {
    activeQty = input;
    Object.keys(qtyInputs).forEach(function (key) { qtyInputs[key].classList.toggle("active", qtyInputs[key] === input); });
  }

  function qtyValue(key) {
    var value = qtyInputs[key].value.trim();
    return value === "" ? "0" : value;
  }

  function refreshScrap() {
    var scrap = parseFloat(qtyInputs.scrap.value) || 0;
    scrapBox.hidden = scrap <= 0;
  }

  // Shown inside the panel: the page's message line is hidden behind it.
  function padError(text) {
    var line = document.getElementById("panel-qty-error");
    line.textContent = text || "";
    line.hidden = !text;
  }

  function openQtyPanel(mode) {
    qtyMode = mode;
    padError("");
    scrapReason = "";
    Object.keys(qtyInputs).forEach(function (key) { qtyInputs[key].value = ""; });
    qtyPanel.querySelectorAll("[data-scrap-reason]").forEach(function (b) { b.setAttribute("aria-pressed", "false"); });
    refreshScrap();
    var card = currentCard();
    var left = card ? card.dataset.left : "";
    var hint = format(strings.atMost, { qty: left + " " + (card ? card.dataset.unit : "") });
    if (mode === "complete") hint = qtyPanel.dataset.hintComplete + " " + hint;
    document.getElementById("panel-qty-title").textContent = qtyPanel.dataset["title" + (mode === "complete" ? "Complete" : "Report")];
    document.getElementById("panel-qty-hint").textContent = hint;
    document.getElementById("panel-qty-submit").textContent = qtyPanel.dataset["submit" + (mode === "complete" ? "Complete" : "Report")];
    showPanel("panel-qty");
    setActiveQty(qtyInputs.good);
    qtyInputs.good.focus(); // inputmode=none: no on-screen keyboard over the pad, but a real keyboard types here
  }

  Object.keys(qtyInputs).forEach(function (key) {
    var input = qtyInputs[key];
    input.addEventListener("focus", function () { setActiveQty(input); });
    input.addEventListener("click", function () { setActiveQty(input); });
    input.addEventListener("input", refreshScrap);
  });

  document.getElementById("floor-keypad").addEventListener("click", function (event) {
    var key = event.target.closest("[data-key]");
    if (!key || !activeQty) return;
    var value = activeQty.value;
    if (key.dataset.key === "back") value = value.slice(0, -1);
    else if (key.dataset.key === "." && value.indexOf(".") !== -1) return;
    else if (value.length < 10) value = value === "0" && key.dataset.key !== "." ? key.dataset.key : value + key.dataset.key;
    activeQty.value = value;
    refreshScrap();
  });

  qtyPanel.addEventListener("click", function (event) {
    var button = event.target.closest("[data-scrap-reason]");
    if (!button) return;
    scrapReason = button.dataset.scrapReason;
    padError("");
    qtyPanel.querySelectorAll("[data-scrap-reason]").forEach(function (b) {
      b.setAttribute("aria-pressed", b === button ? "true" : "false");
    });
  });

  document.getElementById("panel-qty-submit").addEventListener("click", function () {
    var good = qtyValue("good"), scrap = qtyValue("scrap"), rework = qtyValue("rework");
    var total = (parseFloat(good) || 0) + (parseFloat(scrap) || 0) + (parseFloat(rework) || 0);
    if (qtyMode === "report" && total <= 0) {
      padError(strings.enterQty);
      return;
    }
    if ((parseFloat(scrap) || 0) > 0 && !scrapReason) {
      padError(strings.scrapReason);
      return;
    }
    closePanel();
    var fields = { good_qty: good, scrap_qty: scrap, rework_qty: rework };
    if ((parseFloat(scrap) || 0) > 0) fields.reason = scrapReason;
    pressOperation(qtyMode, fields);
  });

  // ---- Photo: taken now, sent with the next press ---------------------------------------------------------

  var pendingPhoto = null; // {data: dataURL or Blob, name}

  // Shrink the picture before it is queued: an 8 MB photo over workshop Wi-Fi is slow and overfills localStorage.
  function shrink(file) {
    return new Promise(function (resolve) {
      if (!window.FileReader || !document.createElement("canvas").getContext) { resolve(null); return; }
      var reader = new FileReader();
      reader.onerror = function () { resolve(null); };
      reader.onload = function () {
        var image = new Image();
        image.onerror = function () { resolve(null); };
        image.onload = function () {
          var scale = Math.min(1, PHOTO_MAX_SIDE / Math.max(image.width, image.height));
          var canvas = document.createElement("canvas");
          canvas.width = Math.round(image.width * scale);
          canvas.height = Math.round(image.height * scale);
          canvas.getContext("2d").drawImage(image, 0, 0, canvas.width, canvas.height);
          try { resolve(canvas.toDataURL("image/jpeg", 0.85)); } catch (e) { resolve(null); }
        };
        image.src = reader.result;
      };
      reader.readAsDataURL(file);
    });
  }

  photoInput.addEventListener("change", function () {
    var file = photoInput.files && photoInput.files[0];
    if (!file) return;
    shrink(file).then(function (dataUrl) {
      pendingPhoto = dataUrl ? { data: dataUrl, name: "photo.jpg" } : { data: file, name: file.name || "photo.jpg" };
      document.getElementById("floor-photo-thumb").src = dataUrl || URL.createObjectURL(file);
      photoPreview.hidden = false;
      showMessage(strings.photoAttached + " " + strings.photoOnly, "info");
      photoInput.value = "";
    });
  });

  document.getElementById("floor-photo-remove").addEventListener("click", function () {
    pendingPhoto = null;
    photoPreview.hidden = true;
  });

  function attachPendingPhoto(entry) {
    if (!pendingPhoto || entry.keepPhoto) return;
    if (typeof pendingPhoto.data === "string") entry.photo = pendingPhoto.data;
    else unsavedPhotos[entry.id] = pendingPhoto.data;
    entry.photoName = pendingPhoto.name;
    pendingPhoto = null;
    photoPreview.hidden = true;
  }

  // ---- Camera scan (only where the browser has BarcodeDetector) --------------------------------------------

  var cameraButton = document.getElementById("floor-camera");
  var video = document.getElementById("floor-video");
  var stream = null;
  var scanTimer = null;

  function stopCamera() {
    if (scanTimer) clearTimeout(scanTimer);
    scanTimer = null;
    if (stream) stream.getTracks().forEach(function (track) { track.stop(); });
    stream = null;
    video.srcObject = null;
  }

  if ("BarcodeDetector" in window && navigator.mediaDevices && navigator.mediaDevices.getUserMedia) {
    Promise.resolve(window.BarcodeDetector.getSupportedFormats ? window.BarcodeDetector.getSupportedFormats() : ["qr_code"])
      .then(function (formats) { cameraButton.hidden = formats.indexOf("qr_code") === -1; })
      .catch(function () { cameraButton.hidden = true; });
  }

  cameraButton.addEventListener("click", function () {
    var detector = new window.BarcodeDetector({ formats: ["qr_code"] });
    showPanel("panel-camera");
    navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false }).then(function (media) {
      stream = media;
      video.srcObject = media;
      return video.play();
    }).then(function () {
      function look() {
        if (!stream) return;
        detector.detect(video).then(function (codes) {
          if (codes.length && codes[0].rawValue) {
            var code = codes[0].rawValue;
            closePanel();
            scanField.value = code;
            openCode(code).then(function () { scanField.value = ""; });
          } else {
            scanTimer = setTimeout(look, 250);
          }
        }, function () { scanTimer = setTimeout(look, 500); });
      }
      look();
    }).catch(function () {
      closePanel();
      showMessage(strings.cameraFailed, "bad");
    });
  });

  // ---- Sending again, switching operator ----------------------------------------------------------------------

  pendingBadge.addEventListener("click", function () { flush(); });
  window.addEventListener("online", function () { flush(); });
  document.addEventListener("visibilitychange", function () { if (!document.hidden) flush(); });
  window.addEventListener("storage", function (event) { if (event.key === QUEUE_KEY) updateBadge(); });
  setInterval(function () {
    if (loadQueue().some(mine)) flush();
  }, RETRY_MS);

  document.getElementById("floor-switch").addEventListener("submit", function (event) {
    var count = loadQueue().filter(mine).length;
    if (count && !window.confirm(format(strings.switchPending, { count: count }))) event.preventDefault();
  });

  var card = currentCard();
  if (card) applyQueued(card);
  updateBadge();
  markQueuedOnCard();
  flush();
})();
