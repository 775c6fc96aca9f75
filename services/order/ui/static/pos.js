/* The till (/pos): pick dishes, tap a card, see 原价/折扣/补贴/应付, pay. Talks only to the order service. */
(function () {
  "use strict";
  var t = window.I18N.t;
  var Page = window.Page;
  var state = { site: null, siteKind: null, menu: [], lines: [], card: null, quote: null, key: null, busy: false, menuRequests: 0 };

  function $(id) { return document.getElementById(id); }

  function claims() {
    try {
      var token = window.localStorage.getItem("meal-assist.token") || "";
      return JSON.parse(atob(token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/")));
    } catch (e) {
      return null;
    }
  }

  function today() {
    return new Intl.DateTimeFormat("en-CA", { timeZone: "Asia/Shanghai", year: "numeric", month: "2-digit", day: "2-digit" }).format(new Date());
  }

  function defaultSlot() {
    var hour = Number(new Intl.DateTimeFormat("en-GB", { timeZone: "Asia/Shanghai", hour: "2-digit", hour12: false }).format(new Date()));
    return hour < 9 ? "breakfast" : hour < 15 ? "lunch" : "dinner";
  }

  function say(text) { Page.show("message", text, "error"); }

  function menuPath() {
    return "/v1/sites/" + encodeURIComponent(state.site) + "/menu?service_date=" + today() + "&meal_slot=" + $("slot").value;
  }

  function loadMenu() {
    var c = claims();
    state.site = c && c.site_id;
    if (!state.site) return Promise.reject(new Page.ApiError(401, { code: "invalid_token" }));
    var asked = ++state.menuRequests; /* a slower answer for an earlier slot must not overwrite the current one */
    return Page.api("GET", menuPath()).then(function (menu) {
      if (asked !== state.menuRequests) return menu;
      state.menu = menu.items;
      state.siteKind = menu.site_kind;
      $("site-name").textContent = menu.site_name;
      $("today").textContent = today();
      renderMenu();
      return menu;
    });
  }

  function badges(item) {
    var nodes = item.diet_variants.filter(function (d) { return d !== "regular"; }).map(function (d) {
      return Page.el("span", { className: "badge ok", text: t("diet_" + d) });
    });
    return nodes.concat(item.allergens.map(function (a) { return Page.el("span", { className: "badge bad", text: t("allergen_" + a) }); }));
  }

  function renderMenu() {
    var box = $("menu");
    box.textContent = "";
    $("menu-empty").hidden = state.menu.length > 0;
    state.menu.forEach(function (item) {
      var button = Page.el("button", { type: "button", className: "dish", dataset: { item: item.menu_item_id } }, [
        Page.el("span", { className: "dish-name", text: item.name }),
        Page.el("span", { className: "dish-price", text: Page.yuan(item.price_fen) }),
        Page.el("span", { className: "dish-badges" }, badges(item)),
      ]);
      button.addEventListener("click", function () { addLine(item); });
      box.appendChild(button);
    });
  }

  function addLine(item) {
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
      var item = state.menu.filter(function (m) { return m.menu_item_id === line.menu_item_id; })[0];
      if (!item) return;
      var select = Page.el("select", { "aria-label": t("pos_order") }, item.diet_variants.map(function (d) {
        var option = Page.el("option", { value: d, text: t("diet_" + d) });
        if (d === line.diet_variant) option.selected = true;
        return option;
      }));
      select.addEventListener("change", function () { line.diet_variant = select.value; changed(); });
      var minus = Page.el("button", { type: "button", className: "small", text: "−", "aria-label": "−" });
      var plus = Page.el("button", { type: "button", className: "small", text: "+", "aria-label": "+" });
      minus.addEventListener("click", function () { line.qty -= 1; if (line.qty <= 0) state.lines.splice(index, 1); changed(); });
      plus.addEventListener("click", function () { line.qty += 1; changed(); });
      list.appendChild(Page.el("li", {}, [Page.el("span", { className: "line-name", text: item.name }), select, minus,
        Page.el("b", { className: "qty", text: String(line.qty) }), plus]));
    });
  }

  function renderQuote() {
    var q = state.quote;
    $("list-total").textContent = q ? Page.yuan(q.list_total_fen) : "—";
    $("age-discount").textContent = q ? "−" + Page.yuan(q.age_discount_fen) : "—";
    $("group-subsidy").textContent = q ? "−" + Page.yuan(q.group_subsidy_fen) : "—";
    $("senior-pays").textContent = q ? Page.yuan(q.senior_pays_fen) : "—";
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

  function describe(error) {
    if (error instanceof Page.ApiError && error.code === "insufficient_balance") {
      return t("pos_short_balance", { balance: Page.yuan(error.body.balance_fen), pays: Page.yuan(error.body.senior_pays_fen) });
    }
    return error instanceof Page.ApiError ? Page.describe(error) : t("pos_network");
  }

  function changed() {
    state.key = null; /* another basket is another purchase */
    renderLines();
    quote();
  }

  function quote() {
    say("");
    if (!state.lines.length) { state.quote = null; renderQuote(); return Promise.resolve(); }
    var body = { site_id: state.site, card_id: state.card, service_date: today(), meal_slot: $("slot").value,
      items: state.lines.map(function (l) { return { menu_item_id: l.menu_item_id, qty: l.qty }; }) };
    return Page.api("POST", "/v1/quotes", { body: body }).then(
      function (q) { state.quote = q; renderQuote(); },
      function (error) { state.quote = null; renderQuote(); say(describe(error)); }
    );
  }

  function settle(order) {
    if (order.status !== "pending_payment") return Promise.resolve(order);
    say(t("pos_pending"));
    return new Promise(function (resolve) { window.setTimeout(resolve, 1000); }).then(function () {
      return Page.api("GET", "/v1/orders/" + order.order_id).then(settle);
    });
  }

  function setBusy(busy) {
    state.busy = busy;
    document.querySelectorAll("[data-pay]").forEach(function (b) { b.disabled = busy; });
  }

  function pay(method) {
    if (state.busy) return;
    if (!state.lines.length) { say(t("pos_pick_first")); return; }
    setBusy(true);
    state.key = state.key || Page.newKey(); /* kept for retries of this same purchase: never charged twice */
    var body = { site_id: state.site, card_id: state.card, channel: state.siteKind === "cart" ? "cart" : "dine_in",
      service_date: today(), meal_slot: $("slot").value, items: state.lines, payment_method: method };
    Page.api("POST", "/v1/orders", { body: body, headers: { "Idempotency-Key": state.key } })
      .then(settle)
      .then(
        function (order) {
          if (order.status === "confirmed") showReceipt(order);
          else say(t("problem." + order.reason) || order.reason);
        },
        function (error) {
          if (error instanceof Page.ApiError) state.key = null; /* declined: the next press is a new purchase */
          say(describe(error));
        }
      )
      .then(function () { setBusy(false); });
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
    $("receipt-order").textContent = order.order_id.slice(0, 8);
    $("receipt-method").textContent = t("method_" + order.payment_method);
    say("");
    $("next").focus();
  }

  function nextCustomer() {
    state.lines = []; state.card = null; state.quote = null; state.key = null;
    $("card").value = "";
    $("receipt").hidden = true;
    $("till").hidden = false;
    renderLines(); renderQuote(); say("");
    $("card").focus();
  }

  function useCard() {
    state.card = $("card").value.trim() || null;
    state.key = null;
    quote();
  }

  document.addEventListener("DOMContentLoaded", function () {
    Page.configure({ verify: loadMenu });
    $("slot").value = defaultSlot();
    /* a keyboard-wedge reader types the number, then Enter */
    $("card").addEventListener("keydown", function (event) { if (event.key === "Enter") { event.preventDefault(); useCard(); } });
    $("card").addEventListener("change", useCard);
    $("no-card").addEventListener("click", function () { $("card").value = ""; useCard(); });
    $("slot").addEventListener("change", function () { state.lines = []; loadMenu().then(changed, function (e) { say(describe(e)); }); });
    document.querySelectorAll("[data-pay]").forEach(function (b) { b.addEventListener("click", function () { pay(b.dataset.pay); }); });
    $("print").addEventListener("click", function () { window.print(); });
    $("next").addEventListener("click", nextCustomer);
    window.I18N.onChange(function () { renderMenu(); renderLines(); renderQuote(); });
    Page.whenToken().then(loadMenu).then(function () { $("card").focus(); }, function (error) { say(describe(error)); });
  });
})();
