/* What every page shares: the device token (asked once, kept in this browser), calls to its own service, money. */
(function () {
  "use strict";
  var TOKEN_KEY = "meal-assist.token";
  var t = window.I18N.t;
  var verify = null;
  var tokenWaiters = [];

  function readToken() {
    try {
      return window.localStorage.getItem(TOKEN_KEY) || "";
    } catch (e) {
      return "";
    }
  }

  function storeToken(value) {
    try {
      if (value) window.localStorage.setItem(TOKEN_KEY, value);
      else window.localStorage.removeItem(TOKEN_KEY);
    } catch (e) {
      /* nothing to keep it in */
    }
  }

  function ApiError(status, body) {
    this.status = status;
    this.body = body || {};
    this.code = this.body.code || "http_" + status;
    this.detail = this.body.detail || "";
    this.message = this.code + ": " + this.detail;
  }
  ApiError.prototype = Object.create(Error.prototype);

  /* A user-facing sentence for an error: our own text for known codes; else, in English the server's detail and code,
     in Chinese a Chinese sentence with the code (the server's detail is English). */
  function describe(error) {
    if (!(error instanceof ApiError)) return t("network_error");
    var key = "problem." + error.code;
    if (window.I18N.has(key)) return t(key, error.body);
    if (window.I18N.lang() === "zh") return t("problem_other", { code: error.code });
    return (error.detail || error.code) + " (" + t("error_code") + ": " + error.code + ")";
  }

  function askForToken(message) {
    var dialog = document.getElementById("token-dialog");
    var error = document.getElementById("token-error");
    error.hidden = !message;
    error.textContent = message || "";
    if (!dialog.open) dialog.showModal();
    document.getElementById("token-input").focus();
  }

  function whenToken() {
    if (readToken()) return Promise.resolve(readToken());
    return new Promise(function (resolve) {
      tokenWaiters.push(resolve);
    });
  }

  /* fetch against this page's own service, with the token; JSON in, JSON (or text) out, problems as ApiError. */
  function api(method, path, options) {
    var opts = options || {};
    var headers = Object.assign({ Accept: opts.accept || "application/json" }, opts.headers || {});
    var token = readToken();
    if (token) headers.Authorization = "Bearer " + token;
    var init = { method: method, headers: headers, credentials: "same-origin" };
    if (opts.body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(opts.body);
    }
    return window.fetch(path, init).then(
      function (response) {
        var type = response.headers.get("content-type") || "";
        var read = type.indexOf("json") >= 0 ? response.json() : opts.accept === "blob" ? response.blob() : response.text();
        return read.then(function (body) {
          if (response.ok) return body;
          var error = new ApiError(response.status, typeof body === "object" ? body : { detail: String(body) });
          if (response.status === 401) {
            storeToken("");
            askForToken(t("token_invalid"));
          }
          throw error;
        });
      },
      function () {
        throw new Error("network");
      }
    );
  }

  function saveToken(event) {
    event.preventDefault();
    var value = document.getElementById("token-input").value.trim().replace(/^Bearer\s+/i, "");
    if (!value) return;
    storeToken(value);
    var error = document.getElementById("token-error");
    error.hidden = false;
    error.textContent = t("token_checking");
    var check = verify ? verify() : Promise.resolve();
    check.then(
      function () {
        error.hidden = true;
        document.getElementById("token-input").value = "";
        document.getElementById("token-dialog").close();
        var waiting = tokenWaiters.splice(0);
        waiting.forEach(function (resolve) {
          resolve(value);
        });
      },
      function (err) {
        if (err instanceof ApiError && err.status === 403) {
          storeToken("");
          askForToken(t("token_forbidden"));
        } else if (err instanceof ApiError && err.status === 401) {
          askForToken(t("token_invalid"));
        } else {
          askForToken(describe(err));
        }
      }
    );
  }

  /* 1234 -> "12.34"; -5 -> "-0.05"; thousands separated. */
  function yuan(fen) {
    var n = Number(fen) || 0;
    var sign = n < 0 ? "-" : "";
    var abs = Math.abs(Math.round(n));
    var whole = Math.floor(abs / 100);
    var cents = String(abs % 100).padStart(2, "0");
    return sign + whole.toLocaleString("en-US") + "." + cents;
  }

  /* "50", "50.5", "50.00" -> fen as an integer; anything else -> null (no floating point on money). */
  function parseYuan(text) {
    var match = /^\s*(\d{1,9})(?:\.(\d{1,2}))?\s*$/.exec(String(text || ""));
    if (!match) return null;
    var cents = (match[2] || "").padEnd(2, "0");
    return Number(match[1]) * 100 + Number(cents);
  }

  /* A new idempotency key for each deliberate action (a click), reused only when that same action is retried. */
  function newKey() {
    if (window.crypto && typeof window.crypto.randomUUID === "function") return window.crypto.randomUUID();
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    var hex = Array.prototype.map.call(bytes, function (b) {
      return b.toString(16).padStart(2, "0");
    });
    return [hex.slice(0, 4), hex.slice(4, 6), hex.slice(6, 8), hex.slice(8, 10), hex.slice(10, 16)]
      .map(function (part) {
        return part.join("");
      })
      .join("-");
  }

  /* el("td", {className: "num", text: "1"}, [children]) */
  function el(tag, props, children) {
    var node = document.createElement(tag);
    Object.keys(props || {}).forEach(function (name) {
      var value = props[name];
      if (value === undefined || value === null) return;
      if (name === "text") node.textContent = value;
      else if (name === "className") node.className = value;
      else if (name === "dataset") Object.assign(node.dataset, value);
      else node.setAttribute(name, value);
    });
    (children || []).forEach(function (child) {
      node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    });
    return node;
  }

  function show(target, text, kind) {
    var node = typeof target === "string" ? document.getElementById(target) : target;
    node.textContent = text || "";
    node.className = "message" + (kind ? " " + kind : "");
    node.hidden = !text;
  }

  var pageData = JSON.parse(document.getElementById("page-data").textContent || "{}");

  window.Page = {
    api: api,
    ApiError: ApiError,
    describe: describe,
    yuan: yuan,
    parseYuan: parseYuan,
    newKey: newKey,
    el: el,
    show: show,
    data: pageData,
    whenToken: whenToken,
    /* verify(): a cheap call the token must pass before the dialog closes */
    configure: function (options) {
      verify = options.verify || null;
    },
  };

  document.addEventListener("DOMContentLoaded", function () {
    document.getElementById("token-form").addEventListener("submit", saveToken);
    document.getElementById("token-dialog").addEventListener("cancel", function (event) {
      if (!readToken()) event.preventDefault(); /* nothing works without a token */
    });
    document.getElementById("token-change").addEventListener("click", function () {
      askForToken("");
    });
    if (!readToken()) askForToken("");
  });
})();
