/* The till (/pos): pick dishes, tap a card, see 原价/折扣/补贴/应付, pay. Talks only to the order service. */
(function () {
  "use strict";
  var t = window.I18N.t;
  var Page = window.Page;
  var SETTLE_MS = 30000; /* how long a pay press waits for a pending payment before the till moves on */
  var RECHECK_MS = 5000; /* how long "check again" (or a pay press on a known order) waits */
  var BACKOFF_MS = [500, 1000, 1000, 2000, 2000, 3000, 5000];
  var city = Page.data || {};
  var skew = city.now_ms ? city.now_ms - Date.now() : 0; /* the server's clock, not the device's */
  var state = {
    site: null, siteKind: null, menu: [], names: {}, lines: [], card: null, quote: null, busy: false,
    menuRequests: 0, quoteRequests: 0, editing: false,
    pending: null, /* {key, body, orderId, phase: sending|unknown|timed_out}: a payment whose outcome is not known yet */
    unresolved: [], /* orders left pending when the cashier moved on: [{orderId, text}] */
  };

  function $(id) { return document.getElementById(id); }
  function delay(ms) { return new Promise(function (resolve) { window.setTimeout(resolve, ms); }); }
  function short(orderId) { return String(orderId || "").slice(0, 8); }

  function claims() {
    try {
      var token = window.localStorage.getItem("meal-assist.token") || "";
      return JSON.parse(atob(token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/")));
    } catch (e) {
      return null;
    }
  }

  /* Now in the city's time zone (from the server), formatted with `options`; null if this browser cannot. */
  function cityClock(options) {
    try {
      return new Intl.DateTimeFormat("en-CA", Object.assign({ timeZone: city.timezone }, options)).format(new Date(Date.now() + skew));
    } catch (e) {
      return null;
    }
  }

  function today() {
    var day = cityClock({ year: "numeric", month: "2-digit", day: "2-digit" });
    return /^\d{4}-\d{2}-\d{2}$/.test(day || "") ? day : city.today;
  }

  function defaultSlot() {
    var hour = Number(cityClock({ hour: "2-digit", hourCycle: "h23" }));
    if (isNaN(hour)) return "lunch";
    return hour < 9 ? "breakfast" : hour < 15 ? "lunch" : "dinner";
  }

  function say(text, kind) { Page.show("message", text, kind === undefined ? "error" : kind); }

  function sitting() { return encodeURIComponent(state.site) + "/"; }

  function menuPath() {
    return "/v1/sites/" + sitting() + "menu?service_date=" + today() + "&meal_slot=" + $("slot").value;
  }

  function loadMenu() {
    var c = claims();
    state.site = c && c.site_id;
    if (!state.site) return Promise.reject(new Page.ApiError(401, { code: "invalid_token" }));
    var asked = ++state.menuRequests; /* a slower answer for an earlier slot must not overwrite the current one */
    return Page.api("GET", menuPath()).then(function (menu) {
      if (asked !== state.menuRequests) return menu;
      state.menu = menu.items;
      state.menu.forEach(function (item) { state.names[item.menu_item_id] = item.name; });
      state.siteKind = menu.site_kind;
      $("site-name").textContent = menu.site_name;
      $("today").textContent = today();
      renderMenu();
      renderLines();
      if (!$("portions").contains(document.activeElement)) renderPortions();
      return menu;
    });
  }

  function refreshMenu() { return loadMenu().catch(function () { /* the next sale or slot change tries again */ }); }

  function dish(menuItemId) { return state.menu.filter(function (m) { return m.menu_item_id === menuItemId; })[0]; }
  function dishName(menuItemId) { return state.names[menuItemId] || menuItemId || ""; }
  function soldOut(item) { return item.sold_out === true || item.portions_left === 0; }
  function limited(item) { return item.portions_left !== null && item.portions_left !== undefined; }

  function badges(item) {
    var nodes = [];
    if (soldOut(item)) nodes.push(Page.el("span", { className: "badge bad stock", text: t("pos_sold_out_badge") }));
    else if (limited(item)) nodes.push(Page.el("span", { className: "badge warn stock", text: t("pos_portions_left", { n: item.portions_left }) }));
    item.diet_variants.filter(function (d) { return d !== "regular"; }).forEach(function (d) {
      nodes.push(Page.el("span", { className: "badge ok", text: t("diet_" + d) }));
    });
    return nodes.concat(item.allergens.map(function (a) { return Page.el("span", { className: "badge bad", text: t("allergen_" + a) }); }));
  }

  function renderMenu() {
    var box = $("menu");
    box.textContent = "";
    $("menu-empty").hidden = state.menu.length > 0;
    state.menu.forEach(function (item) {
      var out = soldOut(item);
      var button = Page.el("button", { type: "button", className: "dish" + (out ? " sold-out" : ""), dataset: { item: item.menu_item_id } }, [
        Page.el("span", { className: "dish-name", text: item.name }),
        Page.el("span", { className: "dish-price", text: Page.yuan(item.price_fen) }),
        Page.el("span", { className: "dish-badges" }, badges(item)),
      ]);
      button.disabled = out;
      button.addEventListener("click", function () { addLine(item); });
      box.appendChild(button);
    });
  }

  /* May the order hold `more` further portions of this dish? Says why not. */
  function room(menuItemId, more) {
    var item = dish(menuItemId);
    if (!item || !limited(item)) return true;
    var held = state.lines.reduce(function (sum, l) { return sum + (l.menu_item_id === menuItemId ? l.qty : 0); }, 0);
    if (held + more <= item.portions_left) return true;
    say(soldOut(item) ? t("problem.sold_out", { name: item.name }) : t("pos_only_left", { name: item.name, n: item.portions_left }));
    return false;
  }

  function addLine(item) {
    if (!room(item.menu_item_id, 1)) return;
    var diet = item.diet_variants.indexOf("regular") >= 0 ? "regular" : item.diet_variants[0];
    var line = state.lines.filter(function (l) { return l.menu_item_id === item.menu_item_id && l.diet_variant === diet; })[0];
    if (line) line.qty += 1;
    else state.lines.push({ menu_item_id: item.menu_item_id, qty: 1, diet_variant: diet });
    changed();
  }

  function renderLines() {
    var list = $("lines");
    list.textContent = "";
    $("lines-empty").hidden = state.lines.length > 0;
    state.lines.forEach(function (line, index) {
      var item = dish(line.menu_item_id); /* a dish gone from the menu stays visible, so the cashier can take it off */
      var variants = item ? item.diet_variants : [line.diet_variant];
      var select = Page.el("select", { "aria-label": t("pos_order") }, variants.map(function (d) {
        var option = Page.el("option", { value: d, text: t("diet_" + d) });
        if (d === line.diet_variant) option.selected = true;
        return option;
      }));
      select.addEventListener("change", function () { line.diet_variant = select.value; changed(); });
      var minus = Page.el("button", { type: "button", className: "small", text: "−", "aria-label": "−" });
      var plus = Page.el("button", { type: "button", className: "small", text: "+", "aria-label": "+" });
      minus.addEventListener("click", function () { line.qty -= 1; if (line.qty <= 0) state.lines.splice(index, 1); changed(); });
      plus.addEventListener("click", function () { if (room(line.menu_item_id, 1)) { line.qty += 1; changed(); } });
      var name = item ? item.name : dishName(line.menu_item_id) + t("pos_unlisted");
      list.appendChild(Page.el("li", {}, [Page.el("span", { className: "line-name", text: name }), select, minus,
        Page.el("b", { className: "qty", text: String(line.qty) }), plus]));
    });
  }

  function renderQuote() {
    var q = state.quote;
    $("list-total").textContent = q ? Page.yuan(q.list_total_fen) : "—";
    $("age-discount").textContent = q ? "−" + Page.yuan(q.age_discount_fen) : "—";
    $("group-subsidy").textContent = q ? "−" + Page.yuan(q.group_subsidy_fen) : "—";
    $("senior-pays").textContent = q ? Page.yuan(q.senior_pays_fen) : "—";
    var known = Boolean(q && state.card && q.wallet_balance_fen !== null && q.wallet_balance_fen !== undefined);
    $("wallet-row").hidden = !known;
    $("wallet-row").classList.toggle("short", known && q.wallet_balance_fen < q.senior_pays_fen);
    if (known) {
      var after = q.wallet_balance_fen - q.senior_pays_fen;
      $("wallet-balance").textContent = Page.yuan(q.wallet_balance_fen) + " · " +
        (after >= 0 ? t("pos_wallet_after", { after: Page.yuan(after) }) : t("pos_wallet_short"));
    }
    var note = "";
    if (q) {
      if (!state.card) note = t("pos_note_no_card");
      else if (q.reasons.indexOf("slot_limit_reached") >= 0) note = t("pos_note_slot_limit");
      else if (q.reasons.indexOf("under_age") >= 0) note = t("pos_note_under_age");
      else if (q.pay_percent < 100) note = t("pos_note_pay_percent", { card: state.card, percent: q.pay_percent });
      if (q.reasons.indexOf("card_reported_lost") >= 0) note = t("problem.card_reported_lost");
      if (q.reasons.indexOf("card_suspended") >= 0) note = t("problem.card_suspended");
      if (q.reasons.indexOf("group_subsidy_used_today") >= 0) note += " · " + t("pos_note_group_used");
    }
    $("pay-note").textContent = note;
  }

  /* A problem code (with the problem's fields) as the cashier reads it: never a bare key, never the server's English. */
  function problemText(code, fields) {
    var vars = Object.assign({}, fields || {});
    if (code === "insufficient_balance" && vars.balance_fen !== undefined && vars.senior_pays_fen !== undefined) {
      return t("pos_short_balance", { balance: Page.yuan(vars.balance_fen), pays: Page.yuan(vars.senior_pays_fen) });
    }
    if (code === "sold_out") {
      vars.name = dishName(vars.menu_item_id);
      if (vars.portions_left > 0) return t("pos_only_left", { name: vars.name, n: vars.portions_left });
    }
    var key = "problem." + code;
    return window.I18N.has(key) ? t(key, vars) : t("problem_other", { code: code });
  }

  function describe(error, network) {
    if (error instanceof Page.ApiError) return problemText(error.code, error.body);
    return network || t("pos_network");
  }

  function changed() {
    renderLines();
    quote();
  }

  function quote() {
    say("");
    var asked = ++state.quoteRequests; /* only the latest basket's answer is shown */
    if (!state.lines.length) { state.quote = null; renderQuote(); return Promise.resolve(); }
    var body = { site_id: state.site, card_id: state.card, service_date: today(), meal_slot: $("slot").value,
      items: state.lines.map(function (l) { return { menu_item_id: l.menu_item_id, qty: l.qty }; }) };
    return Page.api("POST", "/v1/quotes", { body: body }).then(
      function (q) { if (asked === state.quoteRequests) { state.quote = q; renderQuote(); } },
      function (error) {
        if (asked !== state.quoteRequests) return;
        state.quote = null;
        renderQuote();
        say(describe(error, t("network_error")));
      }
    );
  }

  function setBusy(busy) {
    state.busy = busy;
    document.querySelectorAll("[data-pay], #check-again, #pending-next").forEach(function (b) { b.disabled = busy; });
  }

  function orderBody(method) {
    return { site_id: state.site, card_id: state.card, channel: state.siteKind === "cart" ? "cart" : "dine_in",
      service_date: today(), meal_slot: $("slot").value, payment_method: method,
      items: state.lines.map(function (l) { return { menu_item_id: l.menu_item_id, qty: l.qty, diet_variant: l.diet_variant }; }) };
  }

  /* A pay press. A payment whose outcome is unknown is settled first, with its own key and body, so nothing is charged
     twice; only once it is known to be declined may this press buy the basket, with a new key. */
  function pay(method) {
    if (state.busy) return;
    if (!state.pending && !state.lines.length) { say(t("pos_pick_first")); return; }
    setBusy(true);
    var wanted = state.lines.length ? orderBody(method) : null;
    var earlier = state.pending ? JSON.stringify(state.pending.body) : null;
    (state.pending ? resolvePending() : Promise.resolve("declined"))
      .then(function (outcome) {
        if (outcome !== "declined" || !wanted || earlier === JSON.stringify(wanted)) return outcome;
        return attempt({ key: Page.newKey(), body: wanted, orderId: null, phase: "sending" });
      })
      .then(function () { setBusy(false); }, function () { setBusy(false); });
  }

  function resolvePending() {
    var p = state.pending;
    if (!p.orderId) return attempt(p); /* the same request again: its stored answer, or its first run */
    say(t("pos_pending"), "warn");
    return Page.api("GET", "/v1/orders/" + p.orderId).then(
      function (order) { return settle(p, order, RECHECK_MS); },
      function () { return settle(p, { status: "pending_payment" }, RECHECK_MS); }
    );
  }

  function attempt(p) {
    state.pending = p;
    p.sent = (p.sent || 0) + 1;
    say(t("pos_pending"), "warn");
    return Page.api("POST", "/v1/orders", { body: p.body, headers: { "Idempotency-Key": p.key } }).then(
      function (order) {
        p.orderId = order.order_id;
        return settle(p, order, SETTLE_MS);
      },
      function (error) { return refused(p, error); }
    );
  }

  function refused(p, error) {
    /* a 4xx says this request was declined, except: the key is busy or taken, or (on a repeat) the token stopped the
       repeat before the server could look the key up */
    var auth = error.status === 401 || error.status === 403 || error.status === 429;
    var declined = error instanceof Page.ApiError && error.status < 500 && !(auth && p.sent > 1) &&
      error.code !== "idempotency_key_reused" && error.code !== "request_in_progress";
    if (declined) { /* nothing charged and the key is free: the next press is a new purchase */
      finish(p);
      say(describe(error));
      if (error.code === "sold_out" || error.code === "unknown_menu_item") refreshMenu();
      return "declined";
    }
    p.phase = "unknown"; /* a network error or a 5xx: it may have been charged; the next press asks first */
    say(describe(error));
    renderPending();
    return "unknown";
  }

  /* Follow a payment until it settles, at most `budget` ms (with backoff), then let the till move on. */
  function settle(p, order, budget) {
    var started = Date.now();
    var tries = 0;
    function check(o) {
      if (o.status === "confirmed" || o.status === "fulfilled") {
        finish(p);
        showReceipt(o);
        refreshMenu();
        return "paid";
      }
      if (o.status !== "pending_payment") {
        finish(p);
        say(problemText(o.reason || "rejected"));
        refreshMenu();
        return "declined";
      }
      var left = budget - (Date.now() - started);
      if (left <= 0) {
        p.phase = "timed_out";
        say("");
        renderPending();
        return "unknown";
      }
      say(t("pos_pending"), "warn");
      return delay(Math.min(BACKOFF_MS[Math.min(tries++, BACKOFF_MS.length - 1)], left)).then(function () {
        return Page.api("GET", "/v1/orders/" + p.orderId).then(check, function () { return check({ status: "pending_payment" }); });
      });
    }
    return check(order);
  }

  function finish(p) {
    if (state.pending === p) state.pending = null;
    renderPending();
  }

  function renderPending() {
    var p = state.pending;
    var shown = !!p && (p.phase === "unknown" || p.phase === "timed_out");
    $("pending-box").hidden = !shown;
    if (!shown) return;
    $("pending-text").textContent = p.phase === "timed_out" ? t("pos_unresolved", { order: short(p.orderId) }) : t("pos_unknown_pending");
    $("pending-next").hidden = p.phase !== "timed_out";
  }

  function checkAgain() {
    if (state.busy || !state.pending) return;
    setBusy(true);
    resolvePending().then(function () { setBusy(false); }, function () { setBusy(false); });
  }

  /* Orders the cashier moved on from: each can be looked up later; a look-up never charges. */
  function renderUnresolved() {
    var list = $("unresolved");
    list.textContent = "";
    state.unresolved.forEach(function (entry) {
      var button = Page.el("button", { type: "button", className: "small", text: t("pos_check_again") });
      button.addEventListener("click", function () { lookUp(entry); });
      list.appendChild(Page.el("li", {}, [Page.el("span", { text: entry.text() }), button]));
    });
  }

  function lookUp(entry) {
    Page.api("GET", "/v1/orders/" + entry.orderId).then(
      function (o) {
        var order = short(o.order_id);
        if (o.status === "pending_payment") entry.text = function () { return t("pos_still_pending", { order: order }); };
        else if (o.status === "confirmed" || o.status === "fulfilled") {
          entry.text = function () { return t("pos_later_paid", { order: order, pays: Page.yuan(o.senior_pays_fen), method: t("method_" + o.payment_method) }); };
        } else entry.text = function () { return t("pos_later_declined", { order: order, reason: problemText(o.reason || "rejected") }); };
        renderUnresolved();
      },
      function (error) { say(describe(error, t("network_error"))); }
    );
  }

  function showReceipt(order) {
    $("till").hidden = true;
    $("receipt").hidden = false;
    $("receipt-site").textContent = $("site-name").textContent;
    $("receipt-date").textContent = order.service_date;
    $("receipt-slot").textContent = t("slot_" + order.meal_slot);
    var list = $("receipt-lines");
    list.textContent = "";
    order.items.forEach(function (item) {
      var diet = item.diet_variant !== "regular" ? " (" + t("diet_" + item.diet_variant) + ")" : "";
      list.appendChild(Page.el("li", { text: item.name + diet + " × " + item.qty + "   " + Page.yuan(item.price_fen * item.qty) }));
    });
    $("r-list-total").textContent = Page.yuan(order.list_total_fen);
    $("r-age-discount").textContent = "−" + Page.yuan(order.age_discount_fen);
    $("r-group-subsidy").textContent = "−" + Page.yuan(order.group_subsidy_fen);
    $("r-senior-pays").textContent = Page.yuan(order.senior_pays_fen);
    $("r-balance").textContent = order.card_id && order.wallet_balance_fen !== null ? Page.yuan(order.wallet_balance_fen) : "—";
    $("receipt-order").textContent = short(order.order_id);
    $("receipt-method").dataset.method = order.payment_method;
    $("receipt-method").textContent = t("method_" + order.payment_method);
    say("");
    $("next").focus();
  }

  function nextCustomer() {
    var p = state.pending;
    if (p && p.orderId) { /* left pending: kept on the till so it can be looked up later */
      var order = short(p.orderId);
      state.unresolved.push({ orderId: p.orderId, text: function () { return t("pos_unresolved", { order: order }); } });
    }
    state.pending = null;
    state.lines = []; state.card = null; state.quote = null;
    $("card").value = "";
    $("receipt").hidden = true;
    $("till").hidden = false;
    renderLines(); renderQuote(); renderPending(); renderUnresolved(); say("");
    $("card").focus();
  }

  function useCard() {
    var card = $("card").value.trim() || null;
    if (card === state.card && state.quote) return; /* Enter, then the field's change event: one read */
    state.card = card;
    quote();
  }

  /* --- portions: how many more of a dish this site can sell this meal (0 = sold out, empty = no limit) --- */
  function renderPortions() {
    var panel = $("portions");
    panel.hidden = !state.editing;
    $("portions-toggle").setAttribute("aria-pressed", String(state.editing));
    if (!state.editing) return;
    var list = $("portions-list");
    list.textContent = "";
    state.menu.forEach(function (item) {
      var input = Page.el("input", { type: "number", min: "0", step: "1", inputmode: "numeric", placeholder: t("pos_portions_unlimited"),
        "aria-label": item.name + " " + t("pos_portions_input"), dataset: { portions: item.menu_item_id } });
      input.value = limited(item) ? String(item.portions_left) : "";
      var save = Page.el("button", { type: "button", className: "small", text: t("pos_portions_save"), dataset: { portionsSave: item.menu_item_id } });
      var out = Page.el("button", { type: "button", className: "small danger", text: t("pos_mark_sold_out"), dataset: { soldOut: item.menu_item_id } });
      function fromInput() {
        var text = input.value.trim();
        if (text === "") return savePortions(item, null);
        if (!/^\d+$/.test(text)) { Page.show("portions-message", t("pos_portions_bad"), "error"); return null; }
        return savePortions(item, Number(text));
      }
      save.addEventListener("click", fromInput);
      input.addEventListener("keydown", function (event) { if (event.key === "Enter") { event.preventDefault(); fromInput(); } });
      out.addEventListener("click", function () { savePortions(item, 0); });
      list.appendChild(Page.el("li", {}, [Page.el("span", { className: "portions-name", text: item.name }), input, save, out]));
    });
  }

  function savePortions(item, left) {
    var path = "/v1/sites/" + sitting() + "availability/" + today() + "/" + $("slot").value + "/" + encodeURIComponent(item.menu_item_id);
    return Page.api("PUT", path, { body: { portions_left: left } }).then(
      function (saved) {
        var now = saved.sold_out ? t("pos_sold_out_badge")
          : saved.portions_left === null ? t("pos_portions_unlimited") : t("pos_portions_left", { n: saved.portions_left });
        Page.show("portions-message", t("pos_portions_saved", { name: item.name, left: now }), "ok");
        return loadMenu().then(renderPortions);
      },
      function (error) { Page.show("portions-message", describe(error, t("network_error")), "error"); }
    );
  }

  /* --- a keyboard-wedge card reader types the number, then Enter, wherever the focus is --- */
  function typingInto(node) {
    if (!node || !node.tagName) return false;
    if (node.isContentEditable || node.tagName === "TEXTAREA") return true;
    if (node.tagName !== "INPUT") return false;
    return ["button", "checkbox", "radio", "submit", "reset", "range", "color", "file", "image"].indexOf(node.type) < 0;
  }

  function captureCardRead(event) {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey || event.isComposing) return;
    if (!event.key || event.key.length !== 1 || event.key === " ") return; /* Enter and Space still press a focused button */
    if (typingInto(event.target) || document.querySelector("dialog[open]")) return;
    event.preventDefault(); /* a printable key outside a text field starts a card number */
    if (!$("receipt").hidden) nextCustomer();
    var card = $("card");
    card.value = event.key;
    card.focus();
    card.setSelectionRange(card.value.length, card.value.length);
  }

  document.addEventListener("DOMContentLoaded", function () {
    Page.configure({ verify: loadMenu });
    $("slot").value = defaultSlot();
    document.addEventListener("keydown", captureCardRead, true);
    $("card").addEventListener("keydown", function (event) { if (event.key === "Enter") { event.preventDefault(); useCard(); } });
    $("card").addEventListener("change", useCard);
    $("no-card").addEventListener("click", function () { $("card").value = ""; useCard(); });
    $("slot").addEventListener("change", function () { state.lines = []; loadMenu().then(changed, function (e) { say(describe(e, t("network_error"))); }); });
    document.querySelectorAll("[data-pay]").forEach(function (b) { b.addEventListener("click", function () { pay(b.dataset.pay); }); });
    $("check-again").addEventListener("click", checkAgain);
    $("pending-next").addEventListener("click", function () { if (!state.busy) nextCustomer(); });
    $("portions-toggle").addEventListener("click", function () {
      state.editing = !state.editing;
      Page.show("portions-message", "");
      renderPortions();
    });
    $("print").addEventListener("click", function () { window.print(); });
    $("next").addEventListener("click", nextCustomer);
    window.I18N.onChange(function () {
      renderMenu(); renderLines(); renderQuote(); renderPending(); renderUnresolved(); renderPortions();
      if (!$("receipt").hidden && $("receipt-method").dataset.method) $("receipt-method").textContent = t("method_" + $("receipt-method").dataset.method);
    });
    Page.whenToken().then(loadMenu).then(function () { $("card").focus(); }, function (error) { say(describe(error, t("network_error"))); });
  });
})();
