/* The pricing administrator's page: cards and wallets, policies, monthly settlement. Talks only to pricing's /v1 API. */
(function () {
  "use strict";
  var t = window.I18N.t;
  var P = window.Page;
  var el = P.el;
  var data = P.data;
  var state = { card: null, wallet: null, meals: [], city: [], district: [], settlement: null, pendingTopup: null };

  function byId(id) {
    return document.getElementById(id);
  }

  function name(kind, code) {
    if (code === null || code === undefined || code === "") return "—";
    var key = kind + "." + code;
    return window.I18N.has(key) ? t(key) : code;
  }

  function names(kind, codes) {
    return codes && codes.length ? codes.map(function (c) { return name(kind, c); }).join(t("list_separator")) : t("none");
  }

  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
    return node;
  }

  function fail(target, error) {
    P.show(target, P.describe(error), "error");
  }

  function cell(text, numeric) {
    return el("td", { text: text, className: numeric ? "num" : null });
  }

  /* --- tabs --- */
  function selectTab(which) {
    ["cards", "policies", "settlement"].forEach(function (tab) {
      var selected = tab === which;
      byId("tab-" + tab).setAttribute("aria-selected", selected ? "true" : "false");
      byId("panel-" + tab).hidden = !selected;
    });
  }

  /* --- cards and wallets --- */
  function searchCards(event) {
    event.preventDefault();
    var q = byId("card-q").value.trim();
    if (!q) return;
    P.show("card-message", "");
    clear(byId("card-results"));
    P.api("GET", "/v1/cards?q=" + encodeURIComponent(q) + "&limit=20").then(function (cards) {
      var exact = cards.filter(function (c) { return c.card_id === q; });
      if (exact.length || cards.length === 1) return openCard((exact[0] || cards[0]).card_id);
      if (!cards.length) return P.show("card-message", t("card_not_found", { q: q }), "error");
      P.show("card-message", t("cards_found", { n: cards.length }));
      cards.forEach(function (c) {
        var button = el("button", { type: "button", className: "ghost", text: c.name + " · " + c.card_id + " · " + name("district", c.home_district) });
        button.addEventListener("click", function () { openCard(c.card_id); });
        byId("card-results").appendChild(el("li", {}, [button]));
      });
    }, function (error) { fail("card-message", error); });
  }

  function openCard(cardId) {
    var path = "/v1/cards/" + encodeURIComponent(cardId);
    return Promise.all([P.api("GET", path), P.api("GET", path + "/wallet"), P.api("GET", path + "/meals?limit=10")]).then(
      function (answers) {
        state.card = answers[0];
        state.wallet = answers[1];
        state.meals = answers[2];
        state.pendingTopup = null;
        clear(byId("card-results"));
        P.show("card-message", "");
        P.show("topup-message", "");
        renderCard();
      },
      function (error) { fail("card-message", error); }
    );
  }

  function renderCard() {
    var card = state.card;
    if (!card) return;
    byId("card-profile").hidden = false;
    byId("card-name").textContent = card.name;
    var status = byId("card-status");
    status.textContent = name("card_status", card.status);
    status.className = "badge " + (card.status === "active" ? "ok" : "bad");
    byId("card-id").textContent = card.card_id;
    byId("card-birth").textContent = card.birth_date + " (" + t("age_years", { n: ageOf(card.birth_date) }) + ")";
    byId("card-last4").textContent = "**************" + card.id_last4;
    byId("card-district").textContent = name("district", card.home_district);
    byId("card-groups").textContent = names("group", card.groups);
    byId("card-diets").textContent = names("diet", card.diets);
    byId("card-allergens").textContent = names("allergen", card.allergens);
    byId("card-contact").textContent = card.emergency_contact || t("none");
    byId("wallet-balance").textContent = P.yuan(state.wallet.balance_fen);
    var body = clear(byId("meals-table").querySelector("tbody"));
    state.meals.forEach(function (m) {
      body.appendChild(
        el("tr", {}, [
          cell(m.service_date),
          cell(name("slot", m.meal_slot)),
          cell(m.site_name || m.site_id),
          cell(P.yuan(m.list_total_fen), true),
          cell(P.yuan(m.senior_pays_fen), true),
          cell(P.yuan(m.subsidy_fen), true),
          cell(name("payment", m.payment_method)),
          cell(name("meal_status", m.status)),
        ])
      );
    });
    byId("meals-empty").hidden = state.meals.length > 0;
  }

  function ageOf(birth) {
    var today = data.today.split("-").map(Number);
    var born = birth.split("-").map(Number);
    var years = today[0] - born[0];
    if (today[1] < born[1] || (today[1] === born[1] && today[2] < born[2])) years -= 1;
    return years;
  }

  function topUp(event) {
    event.preventDefault();
    if (!state.card) return;
    var fen = P.parseYuan(byId("topup-amount").value);
    if (fen === null || fen <= 0) return P.show("topup-message", t("amount_invalid"), "error");
    var cardId = state.card.card_id;
    // A retry of the same top-up after a lost answer reuses its key; every other click is a new top-up.
    var pending = state.pendingTopup;
    if (!pending || pending.cardId !== cardId || pending.fen !== fen) pending = state.pendingTopup = { cardId: cardId, fen: fen, key: P.newKey() };
    var button = byId("topup-button");
    button.disabled = true;
    P.api("POST", "/v1/cards/" + encodeURIComponent(cardId) + "/topups", { body: { amount_fen: fen }, headers: { "Idempotency-Key": pending.key } })
      .then(
        function (done) {
          state.pendingTopup = null;
          state.wallet = { card_id: cardId, balance_fen: done.balance_fen };
          byId("wallet-balance").textContent = P.yuan(done.balance_fen);
          byId("topup-amount").value = "";
          P.show("topup-message", t("topup_done", { amount: P.yuan(done.amount_fen), balance: P.yuan(done.balance_fen) }), "ok");
        },
        function (error) {
          if (error instanceof P.ApiError) state.pendingTopup = null;
          fail("topup-message", error);
        }
      )
      .then(function () { button.disabled = false; });
  }

  /* --- policies --- */
  function inForce(versions) {
    var current = null;
    versions.forEach(function (v) { if (v.in_force) current = v; });
    return current || versions[versions.length - 1] || null;
  }

  function stateBadge(version) {
    if (version.in_force) return el("span", { className: "badge ok", text: t("policy_in_force") });
    if (version.effective_from > data.today) return el("span", { className: "badge warn", text: t("policy_future") });
    return el("span", { className: "badge", text: t("policy_past") });
  }

  function tierText(tier) {
    var ages = tier.max_age === null ? t("age_from", { min: tier.min_age }) : t("age_range", { min: tier.min_age, max: tier.max_age });
    return ages + " " + t("pays_percent", { p: tier.pay_percent });
  }

  function loadCity() {
    return P.api("GET", "/v1/policies/city").then(function (versions) {
      state.city = versions;
      renderCityVersions();
      fillCityForm(inForce(versions));
    }, function (error) { fail("city-message", error); });
  }

  function renderCityVersions() {
    var body = clear(byId("city-versions").querySelector("tbody"));
    state.city.slice().reverse().forEach(function (v) {
      body.appendChild(
        el("tr", {}, [
          cell(v.effective_from),
          cell(v.age_tiers.map(tierText).join(t("item_separator"))),
          cell(String(v.per_slot_limit), true),
          cell(v.discount_cap_fen === null ? t("no_cap") : "¥" + P.yuan(v.discount_cap_fen), true),
          el("td", {}, [stateBadge(v)]),
        ])
      );
    });
    if (!state.city.length) body.appendChild(el("tr", {}, [el("td", { colspan: "5", text: t("no_policy") })]));
  }

  /* Inputs and buttons built here carry their string keys, so switching language relabels them too. */
  function removeButton() {
    return el("button", { type: "button", className: "ghost small", text: t("remove"), "data-t": "remove" });
  }

  function numberInput(className, max, value, labelKey, required) {
    var input = el("input", {
      type: "number", min: "0", max: String(max), step: "1", className: className, value: value === null ? "" : String(value),
      "aria-label": t(labelKey), "data-t-aria-label": labelKey, required: required ? "required" : null,
    });
    if (!required) {
      input.setAttribute("placeholder", t("open_ended"));
      input.setAttribute("data-t-placeholder", "open_ended");
    }
    return input;
  }

  function decimalInput(className, fen, labelKey, required) {
    return el("input", {
      inputmode: "decimal", size: "8", className: className, value: P.yuan(fen), "aria-label": t(labelKey), "data-t-aria-label": labelKey,
      required: required ? "required" : null,
    });
  }

  function tierRow(tier) {
    var remove = removeButton();
    var row = el("tr", {}, [
      el("td", {}, [numberInput("tier-min", 150, tier.min_age, "col_min_age", true)]),
      el("td", {}, [numberInput("tier-max", 150, tier.max_age, "col_max_age", false)]),
      el("td", {}, [numberInput("tier-pay", 100, tier.pay_percent, "col_pay_percent", true)]),
      el("td", {}, [remove]),
    ]);
    remove.addEventListener("click", function () { row.remove(); });
    return row;
  }

  function fillCityForm(version) {
    var tiers = version ? version.age_tiers : [{ min_age: 60, max_age: 69, pay_percent: 80 }, { min_age: 70, max_age: 79, pay_percent: 70 }, { min_age: 80, max_age: null, pay_percent: 50 }];
    var body = clear(byId("tier-rows").querySelector("tbody"));
    tiers.forEach(function (tier) { body.appendChild(tierRow(tier)); });
    byId("city-limit").value = version ? String(version.per_slot_limit) : "1";
    byId("city-cap").value = version && version.discount_cap_fen !== null ? P.yuan(version.discount_cap_fen) : "";
    if (!byId("city-effective").value) byId("city-effective").value = data.today;
  }

  function intOf(input) {
    var text = input.value.trim();
    return /^\d+$/.test(text) ? Number(text) : null;
  }

  function saveCity(event) {
    event.preventDefault();
    var tiers = [];
    var bad = false;
    byId("tier-rows").querySelectorAll("tbody tr").forEach(function (row) {
      var min = intOf(row.querySelector(".tier-min"));
      var maxInput = row.querySelector(".tier-max");
      var max = maxInput.value.trim() === "" ? null : intOf(maxInput);
      var pay = intOf(row.querySelector(".tier-pay"));
      if (min === null || pay === null || (maxInput.value.trim() !== "" && max === null)) bad = true;
      tiers.push({ min_age: min, max_age: max, pay_percent: pay });
    });
    var capText = byId("city-cap").value.trim();
    var cap = capText === "" ? null : P.parseYuan(capText);
    if (bad || !tiers.length || (capText !== "" && cap === null)) return P.show("city-message", t("form_invalid"), "error");
    var body = { effective_from: byId("city-effective").value, age_tiers: tiers, per_slot_limit: intOf(byId("city-limit")), discount_cap_fen: cap };
    P.api("PUT", "/v1/policies/city", { body: body }).then(
      function (saved) {
        P.show("city-message", t("policy_saved", { date: saved.effective_from }), "ok");
        loadCity();
      },
      function (error) { fail("city-message", error); }
    );
  }

  function selectedDistrict() {
    return byId("district-select").value;
  }

  function loadDistrict() {
    var district = selectedDistrict();
    return P.api("GET", "/v1/policies/districts?district=" + encodeURIComponent(district)).then(function (versions) {
      state.district = versions;
      renderDistrictVersions();
      fillDistrictForm(inForce(versions));
    }, function (error) { fail("district-message", error); });
  }

  function subsidyText(g) {
    var text = name("group", g.group) + " ¥" + P.yuan(g.amount_fen);
    return g.min_spend_fen ? text + " " + t("min_spend_of", { amount: P.yuan(g.min_spend_fen) }) : text;
  }

  function renderDistrictVersions() {
    var body = clear(byId("district-versions").querySelector("tbody"));
    state.district.slice().reverse().forEach(function (v) {
      body.appendChild(
        el("tr", {}, [
          cell(v.effective_from),
          cell(v.city_share_percent + "%", true),
          cell(v.group_subsidies.length ? v.group_subsidies.map(subsidyText).join(t("item_separator")) : t("none")),
          el("td", {}, [stateBadge(v)]),
        ])
      );
    });
    if (!state.district.length) body.appendChild(el("tr", {}, [el("td", { colspan: "4", text: t("no_policy") })]));
  }

  function groupRow(g) {
    var select = el("select", { className: "group-code", "aria-label": t("col_group"), "data-t-aria-label": "col_group" });
    data.groups.forEach(function (code) {
      var option = el("option", { value: code, text: name("group", code), "data-t": "group." + code });
      if (code === g.group) option.selected = true;
      select.appendChild(option);
    });
    var remove = removeButton();
    var row = el("tr", {}, [
      el("td", {}, [select]),
      el("td", {}, [decimalInput("group-amount", g.amount_fen, "col_amount", true)]),
      el("td", {}, [decimalInput("group-min", g.min_spend_fen, "col_min_spend", false)]),
      el("td", {}, [remove]),
    ]);
    remove.addEventListener("click", function () { row.remove(); });
    return row;
  }

  function fillDistrictForm(version) {
    var body = clear(byId("group-rows").querySelector("tbody"));
    (version ? version.group_subsidies : []).forEach(function (g) { body.appendChild(groupRow(g)); });
    byId("district-share").value = version ? String(version.city_share_percent) : "0";
    if (!byId("district-effective").value) byId("district-effective").value = data.today;
  }

  function saveDistrict(event) {
    event.preventDefault();
    var subsidies = [];
    var bad = false;
    byId("group-rows").querySelectorAll("tbody tr").forEach(function (row) {
      var amount = P.parseYuan(row.querySelector(".group-amount").value);
      var minText = row.querySelector(".group-min").value.trim();
      var min = minText === "" ? 0 : P.parseYuan(minText);
      if (amount === null || min === null) bad = true;
      subsidies.push({ group: row.querySelector(".group-code").value, amount_fen: amount, min_spend_fen: min });
    });
    var share = intOf(byId("district-share"));
    if (bad || share === null) return P.show("district-message", t("form_invalid"), "error");
    var body = { effective_from: byId("district-effective").value, city_share_percent: share, group_subsidies: subsidies };
    P.api("PUT", "/v1/policies/districts/" + encodeURIComponent(selectedDistrict()), { body: body }).then(
      function (saved) {
        P.show("district-message", t("district_policy_saved", { district: name("district", saved.district), date: saved.effective_from }), "ok");
        loadDistrict();
      },
      function (error) { fail("district-message", error); }
    );
  }

  function fillDistrictSelect() {
    var select = byId("district-select");
    var current = select.value;
    clear(select);
    data.districts.forEach(function (code) {
      select.appendChild(el("option", { value: code, text: name("district", code) }));
    });
    select.value = current || data.districts[0];
  }

  /* --- settlement --- */
  function viewSettlement(event) {
    if (event) event.preventDefault();
    var month = byId("settlement-month").value;
    if (!month) return;
    P.show("settlement-message", t("loading"));
    P.api("GET", "/v1/settlements/" + encodeURIComponent(month)).then(
      function (body) {
        state.settlement = body;
        P.show("settlement-message", "");
        renderSettlement();
      },
      function (error) {
        byId("settlement-view").hidden = true;
        fail("settlement-message", error);
      }
    );
  }

  function tile(labelKey, value) {
    return el("div", { className: "tile", dataset: { total: labelKey } }, [el("div", { className: "label", text: t(labelKey) }), el("div", { className: "value", text: value })]);
  }

  function renderSettlement() {
    var s = state.settlement;
    if (!s) return;
    byId("settlement-view").hidden = false;
    byId("settlement-heading").textContent = t("settlement_of", { month: s.period });
    var badge = byId("settlement-state");
    badge.textContent = s.closed ? t("state_closed") : t("state_open");
    badge.className = "badge " + (s.closed ? "ok" : "warn");
    var checksum = byId("settlement-checksum");
    checksum.hidden = !s.closed;
    checksum.textContent = s.closed ? t("checksum_line", { checksum: s.checksum, at: s.closed_at.replace("T", " ").slice(0, 19) }) : "";
    var totals = s.totals;
    var tiles = clear(byId("settlement-totals"));
    tiles.appendChild(tile("total_meals", String(totals.meals)));
    tiles.appendChild(tile("total_list", "¥" + P.yuan(totals.list_total_fen)));
    tiles.appendChild(tile("total_paid", "¥" + P.yuan(totals.senior_paid_fen)));
    tiles.appendChild(tile("total_subsidy", "¥" + P.yuan(totals.subsidy_fen)));
    tiles.appendChild(tile("total_city", "¥" + P.yuan(totals.city_part_fen)));
    tiles.appendChild(tile("total_district", "¥" + P.yuan(totals.district_part_fen)));

    var ended = s.period < data.month;
    var close = byId("close-month");
    close.disabled = s.closed || !ended;
    var hint = byId("close-hint");
    hint.hidden = s.closed;
    hint.textContent = ended ? t("close_hint") : t("close_not_ended");

    var body = clear(byId("settlement-rows").querySelector("tbody"));
    s.rows.forEach(function (r) {
      body.appendChild(
        el("tr", {}, [
          cell(r.operator),
          cell(name("district", r.funder_district)),
          cell(String(r.meals), true),
          cell(P.yuan(r.list_total_fen), true),
          cell(P.yuan(r.senior_paid_fen), true),
          cell(P.yuan(r.subsidy_fen), true),
          cell(P.yuan(r.city_part_fen), true),
          cell(P.yuan(r.district_part_fen), true),
        ])
      );
    });
    var foot = clear(byId("settlement-rows").querySelector("tfoot"));
    foot.appendChild(
      el("tr", {}, [
        el("td", { colspan: "2", text: t("total") }),
        cell(String(totals.meals), true),
        cell(P.yuan(totals.list_total_fen), true),
        cell(P.yuan(totals.senior_paid_fen), true),
        cell(P.yuan(totals.subsidy_fen), true),
        cell(P.yuan(totals.city_part_fen), true),
        cell(P.yuan(totals.district_part_fen), true),
      ])
    );
    byId("rows-empty").hidden = s.rows.length > 0;

    var funders = s.by_funder.map(function (f) { return { label: name("district", f.funder_district), meals: f.meals, subsidy: f.subsidy_fen }; });
    barChart(byId("chart-meals"), funders.map(function (f) { return { label: f.label, value: f.meals, text: String(f.meals) }; }), "bar", "chart_meals");
    barChart(byId("chart-subsidy"), funders.map(function (f) { return { label: f.label, value: f.subsidy, text: "¥" + P.yuan(f.subsidy) }; }), "bar alt", "chart_subsidy");
    heatMap(byId("matrix"), s.matrix);

    var full = s.full_price;
    byId("full-price").textContent = t("full_price_line", { meals: full.meals, amount: P.yuan(full.list_total_fen) });
    var ledger = s.ledger;
    var check = byId("ledger-check");
    if (ledger) {
      var values = { receivable: P.yuan(ledger.subsidy_receivable_fen), district: P.yuan(ledger.district_payable_fen), city: P.yuan(ledger.city_payable_fen) };
      check.textContent = t(ledger.agrees ? "ledger_agrees" : "ledger_disagrees", values);
      check.className = "message " + (ledger.agrees ? "ok" : "error");
    }
  }

  var SVG = "http://www.w3.org/2000/svg";

  function svgEl(tag, attrs, text) {
    var node = document.createElementNS(SVG, tag);
    Object.keys(attrs).forEach(function (k) { node.setAttribute(k, String(attrs[k])); });
    if (text !== undefined) node.textContent = text;
    return node;
  }

  /* Horizontal bars drawn in inline SVG: one per funder district, the value written at the bar's end. */
  function barChart(container, items, barClass, titleKey) {
    clear(container);
    if (!items.length) return container.appendChild(el("p", { className: "hint", text: t("no_settled_meals") }));
    var width = 560, labelWidth = 150, valueWidth = 120, rowHeight = 40, barHeight = 28;
    var max = Math.max.apply(null, items.map(function (i) { return Math.abs(i.value); })) || 1;
    var svg = svgEl("svg", { viewBox: "0 0 " + width + " " + (items.length * rowHeight + 8), role: "img", "aria-label": t(titleKey) });
    items.forEach(function (item, n) {
      var y = n * rowHeight + 4;
      var length = Math.max(2, ((width - labelWidth - valueWidth) * Math.abs(item.value)) / max);
      svg.appendChild(svgEl("text", { x: labelWidth - 8, y: y + barHeight * 0.72, "text-anchor": "end" }, item.label));
      var bar = svgEl("rect", { x: labelWidth, y: y, width: length, height: barHeight, rx: 3, class: barClass });
      bar.appendChild(svgEl("title", {}, item.label + ": " + item.text));
      svg.appendChild(bar);
      svg.appendChild(svgEl("text", { x: labelWidth + length + 6, y: y + barHeight * 0.72 }, item.text));
    });
    container.appendChild(svg);
  }

  /* Where seniors ate (rows) against where they live (columns): meals per cell, darker = more. */
  function heatMap(table, matrix) {
    clear(table);
    if (!matrix.cells.length) {
      table.appendChild(el("tbody", {}, [el("tr", {}, [el("td", { text: t("no_settled_meals") })])]));
      return;
    }
    var lookup = {};
    var max = 1;
    matrix.cells.forEach(function (c) {
      lookup[c.site_district + "|" + c.home_district] = c;
      max = Math.max(max, Math.abs(c.meals));
    });
    var head = el("tr", {}, [el("th", { text: t("matrix_corner") })]);
    matrix.home_districts.forEach(function (home) { head.appendChild(el("th", { scope: "col", text: name("district", home) })); });
    table.appendChild(el("thead", {}, [head]));
    var body = el("tbody");
    matrix.site_districts.forEach(function (site) {
      var row = el("tr", {}, [el("th", { scope: "row", text: name("district", site) })]);
      matrix.home_districts.forEach(function (home) {
        var c = lookup[site + "|" + home];
        var td = el("td", { dataset: { site: site, home: home } });
        if (c) {
          var share = Math.abs(c.meals) / max;
          td.textContent = String(c.meals);
          td.title = name("district", site) + " ← " + name("district", home) + ": " + c.meals + " · ¥" + P.yuan(c.subsidy_fen);
          td.style.backgroundColor = "rgba(11, 92, 173, " + (0.12 + 0.78 * share).toFixed(2) + ")";
          if (share > 0.5) td.className = "hot";
          if (site !== home) td.dataset.cross = "true";
        } else {
          td.textContent = "·";
        }
        row.appendChild(td);
      });
      body.appendChild(row);
    });
    table.appendChild(body);
  }

  function downloadCsv() {
    var s = state.settlement;
    if (!s) return;
    P.api("GET", "/v1/settlements/" + encodeURIComponent(s.period), { accept: "text/csv" }).then(
      function (text) {
        var url = URL.createObjectURL(new Blob([text], { type: "text/csv" }));
        var link = el("a", { href: url, download: "settlement-" + s.period + ".csv" });
        document.body.appendChild(link);
        link.click();
        link.remove();
        setTimeout(function () { URL.revokeObjectURL(url); }, 10000);
      },
      function (error) { fail("settlement-message", error); }
    );
  }

  function closeMonth() {
    var s = state.settlement;
    if (!s || !window.confirm(t("close_confirm", { month: s.period }))) return;
    P.api("POST", "/v1/settlements/" + encodeURIComponent(s.period) + "/close").then(
      function (body) {
        state.settlement = body;
        renderSettlement();
        P.show("settlement-message", t("closed_done", { month: body.period }), "ok");
      },
      function (error) { fail("settlement-message", error); }
    );
  }

  function rerender() {
    fillDistrictSelect();
    renderCard();
    renderCityVersions();
    renderDistrictVersions();
    renderSettlement();
  }

  document.addEventListener("DOMContentLoaded", function () {
    P.configure({ verify: function () { return P.api("GET", "/v1/cards?limit=1"); } });
    ["cards", "policies", "settlement"].forEach(function (tab) {
      byId("tab-" + tab).addEventListener("click", function () { selectTab(tab); });
    });
    byId("card-search").addEventListener("submit", searchCards);
    byId("topup-form").addEventListener("submit", topUp);
    byId("add-tier").addEventListener("click", function () {
      byId("tier-rows").querySelector("tbody").appendChild(tierRow({ min_age: 0, max_age: null, pay_percent: 100 }));
    });
    byId("city-form").addEventListener("submit", saveCity);
    byId("district-select").addEventListener("change", loadDistrict);
    byId("add-group").addEventListener("click", function () {
      byId("group-rows").querySelector("tbody").appendChild(groupRow({ group: data.groups[0], amount_fen: 0, min_spend_fen: 0 }));
    });
    byId("district-form").addEventListener("submit", saveDistrict);
    byId("settlement-form").addEventListener("submit", viewSettlement);
    byId("csv-download").addEventListener("click", downloadCsv);
    byId("close-month").addEventListener("click", closeMonth);
    byId("settlement-month").value = data.month;
    fillDistrictSelect();
    window.I18N.onChange(rerender);
    P.whenToken().then(function () {
      loadCity();
      loadDistrict();
    });
  });
})();
