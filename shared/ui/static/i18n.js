/* Bilingual pages: Chinese first, English on request; the choice is remembered in this browser. */
(function () {
  "use strict";
  var STORAGE_KEY = "meal-assist.lang";
  var strings = JSON.parse(document.getElementById("i18n-strings").textContent);
  var lang = readLang();
  var listeners = [];

  function readLang() {
    try {
      return window.localStorage.getItem(STORAGE_KEY) === "en" ? "en" : "zh";
    } catch (e) {
      return "zh";
    }
  }

  /* t(key, vars): the text in the current language, with {name} placeholders filled from vars. */
  function t(key, vars) {
    var entry = strings[key];
    var text = entry ? entry[lang] || entry.zh : key;
    if (vars) {
      text = text.replace(/\{(\w+)\}/g, function (whole, name) {
        return Object.prototype.hasOwnProperty.call(vars, name) ? String(vars[name]) : whole;
      });
    }
    return text;
  }

  function has(key) {
    return Object.prototype.hasOwnProperty.call(strings, key);
  }

  function apply(root) {
    var scope = root || document;
    scope.querySelectorAll("[data-t]").forEach(function (el) {
      el.textContent = t(el.getAttribute("data-t"));
    });
    [["data-t-placeholder", "placeholder"], ["data-t-title", "title"], ["data-t-aria-label", "aria-label"]].forEach(function (pair) {
      scope.querySelectorAll("[" + pair[0] + "]").forEach(function (el) {
        el.setAttribute(pair[1], t(el.getAttribute(pair[0])));
      });
    });
    if (!root) {
      document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
      var titleKey = document.body.getAttribute("data-title-key");
      if (titleKey) document.title = t(titleKey);
    }
  }

  function set(next) {
    lang = next === "en" ? "en" : "zh";
    try {
      window.localStorage.setItem(STORAGE_KEY, lang);
    } catch (e) {
      /* private mode: the choice lasts for this page only */
    }
    apply();
    listeners.forEach(function (fn) {
      fn(lang);
    });
  }

  window.I18N = {
    t: t,
    has: has,
    apply: apply,
    set: set,
    lang: function () {
      return lang;
    },
    onChange: function (fn) {
      listeners.push(fn);
    },
  };

  document.addEventListener("DOMContentLoaded", function () {
    apply();
    var toggle = document.getElementById("lang-toggle");
    if (toggle) {
      toggle.addEventListener("click", function () {
        set(lang === "zh" ? "en" : "zh");
      });
    }
  });
})();
