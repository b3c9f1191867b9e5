// The reception screen: live events over EventSource, two keyboard-first forms, bulk table.
// Every value from the server is put in the page with textContent, never as HTML.
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  const seen = new Set();
  const KIND = { card: "カード確認", answer: "ファイル応答", check: "番号入力", error: "エラー", central: "接続", watcher: "ファイル監視", reports: "帳票" };
  const METHOD = { face: "顔認証", visual: "目視確認", pin: "暗証番号" };
  const CONSENT = { drug: "薬剤情報", checkup: "特定健診情報", limit: "限度額適用認定", diagnosis: "診療情報", operation: "手術情報" };
  const STAGE = { received: "受信済み", pending: "送信待ち（再試行中）", processing: "処理中", answered: "応答受信", staged: "応答書込中", delivered: "応答済み" };

  function el(tag, text, cls) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (cls) node.className = cls;
    return node;
  }

  // -- connection banner -------------------------------------------------------------------
  let terminalUp = false;
  let centralReachable = null;
  let watcherRunning = true;
  function renderBanner() {
    const banner = $("banner");
    if (!terminalUp) {
      banner.className = "banner down";
      banner.textContent = "端末に接続できません — 再試行中";
    } else if (!watcherRunning) {
      banner.className = "banner down";
      banner.textContent = "要求フォルダ（req）の監視が停止しています — 再起動しています";
    } else if (centralReachable === true) {
      banner.className = "banner ok";
      banner.textContent = "接続中 — 資格確認サービスに接続しています";
    } else if (centralReachable === false) {
      banner.className = "banner down";
      banner.textContent = "接続できません — 再試行中（資格確認サービス）";
    } else {
      banner.className = "banner unknown";
      banner.textContent = "接続を確認しています…";
    }
  }

  async function refreshStatus() {
    try {
      const response = await fetch("/api/status", { cache: "no-store" });
      const status = await response.json();
      terminalUp = true;
      centralReachable = status.central ? status.central.reachable : null;
      watcherRunning = !(status.watcher && status.watcher.running === false);
    } catch (e) {
      terminalUp = false;
    }
    renderBanner();
  }

  // -- the live list -----------------------------------------------------------------------
  function describe(event) {
    const parts = [];
    if (event.kind === "central") {
      return event.reachable ? "資格確認サービスに接続しました" : "資格確認サービスに接続できません（再試行中）";
    }
    if (event.kind === "watcher") return event.running ? "要求フォルダの監視を再開しました" : "要求フォルダの監視が停止しました（再起動中）";
    if (event.kind === "error") return event.message || "エラーが発生しました";
    if (event.kind === "answer") {
      parts.push(event.request || "");
      if (event.outcome && event.outcome !== "ok") parts.push("エラー応答: " + (event.outcome_label || event.outcome));
    }
    if (event.kind === "card" && event.method) parts.push(METHOD[event.method] || event.method);
    if (event.validity_label) parts.push(event.validity_label);
    if (event.Name) parts.push(event.Name);
    if (event.InsurerName) parts.push(event.InsurerName);
    if (event.ratio_label) parts.push("負担 " + event.ratio_label);
    if (event.ReceptionNumber) parts.push("受付番号 " + event.ReceptionNumber);
    if (event.consents && event.consents.length) {
      parts.push("同意: " + event.consents.map((c) => CONSENT[c] || c).join("・"));
    }
    return parts.filter(Boolean).join("　");
  }

  // PDF links for a confirmed patient: same-origin paths only, opened in a new tab.
  function reportLinks(reports) {
    const span = el("span", null, "reports");
    for (const r of reports || []) {
      if (typeof r.url !== "string" || !r.url.startsWith("/reports/")) continue;
      const a = el("a", r.label || r.kind, "report-link");
      a.href = r.url;
      a.target = "_blank";
      a.rel = "noopener";
      a.dataset.kind = r.kind;
      span.append(a);
    }
    return span;
  }

  function addEvent(event) {
    if (seen.has(event.id)) return;
    seen.add(event.id);
    const item = el("li", null, event.kind);
    item.dataset.kind = event.kind;
    if (event.QualificationValidity) item.dataset.validity = event.QualificationValidity;
    item.append(el("span", (event.at || "").slice(11, 19), "time"));
    item.append(el("span", KIND[event.kind] || event.kind, "tag"));
    item.append(el("span", describe(event), "text"));
    if (event.kind === "reports") item.append(reportLinks(event.reports));
    $("events").prepend(item);
    while ($("events").children.length > 200) $("events").lastElementChild.remove();
  }

  function connect() {
    const source = new EventSource("/events");
    source.onopen = () => { terminalUp = true; refreshStatus(); refreshBulk(); };
    source.onerror = () => { terminalUp = false; renderBanner(); };
    for (const kind of Object.keys(KIND)) {
      source.addEventListener(kind, (message) => {
        const event = JSON.parse(message.data);
        addEvent(event);
        if (kind === "central") { centralReachable = !!event.reachable; renderBanner(); }
        if (kind === "watcher") { watcherRunning = !!event.running; renderBanner(); }
        if (kind === "answer" && String(event.file_kind || event.request || "").startsWith("OQSmuquc")) refreshBulk();
      });
    }
  }

  // -- results -----------------------------------------------------------------------------
  function showResult(box, summary) {
    box.replaceChildren();
    const validity = el("p", summary.validity_label || "不明", "validity");
    validity.classList.add(summary.QualificationValidity === "1" ? "v1" : "bad");
    box.dataset.validity = summary.QualificationValidity || "";
    box.append(validity);
    const list = el("dl");
    const rows = [
      ["氏名", summary.Name], ["カナ", summary.NameKana], ["保険者", summary.InsurerName],
      ["負担割合", summary.ratio_label],
      ["同意", (summary.consents || []).map((c) => CONSENT[c] || c).join("・")],
    ];
    for (const [label, value] of rows) {
      if (!value) continue;
      list.append(el("dt", label), el("dd", value));
    }
    box.append(list);
    if (summary.reports && summary.reports.length) box.append(reportLinks(summary.reports));
    box.focus();
  }

  function showError(errorBox, resultBox, problem, form) {
    errorBox.textContent = problem.message || "エラーが発生しました";
    errorBox.hidden = false;
    resultBox.replaceChildren();
    resultBox.dataset.validity = "";
    if (problem.field && form && form.elements[problem.field]) {
      const input = form.elements[problem.field];
      input.setAttribute("aria-invalid", "true");
      input.focus();
      if (input.select) input.select();
    }
  }

  async function post(url, body) {
    let response;
    try {
      response = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      });
    } catch (e) {
      return { ok: false, data: { code: "TERMINAL_UNAVAILABLE", message: "資格確認端末に接続できません。端末が起動しているか確認してください。" } };
    }
    let data = {};
    try { data = await response.json(); } catch (e) { /* keep {} */ }
    return { ok: response.ok, data: data };
  }

  // -- manual entry ------------------------------------------------------------------------
  function setupManual() {
    const form = $("manual-form");
    form.addEventListener("input", (e) => e.target.removeAttribute("aria-invalid"));
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const button = $("manual-submit");
      $("manual-error").hidden = true;
      button.disabled = true;
      $("manual-result").textContent = "確認しています…";
      const f = form.elements;
      const { ok, data } = await post("/api/check", {
        insurer: f.insurer.value, symbol: f.symbol.value, number: f.number.value,
        branch: f.branch.value, birthdate: f.birthdate.value, date: f.date.value,
        limit_consent: f.limit_consent.checked,
      });
      button.disabled = false;
      if (ok) showResult($("manual-result"), data);
      else showError($("manual-error"), $("manual-result"), data, form);
    });
  }

  // -- virtual card ------------------------------------------------------------------------
  async function refreshCards() {
    try {
      const response = await fetch("/api/cards", { cache: "no-store" });
      const { cards } = await response.json();
      const select = $("card");
      const chosen = select.value;
      select.replaceChildren(...cards.map((c) => {
        const option = el("option", c.name + (c.locked ? "（ロック中）" : ""));
        option.value = c.name;
        return option;
      }));
      if (cards.some((c) => c.name === chosen)) select.value = chosen;
    } catch (e) { /* the banner already says the terminal is unreachable */ }
  }

  function setupCard() {
    const form = $("card-form");
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const f = form.elements;
      $("card-error").hidden = true;
      const method = form.querySelector("input[name=method]:checked").value;
      const consents = Array.from(form.querySelectorAll("input[name=consent]:checked")).map((c) => c.value);
      $("card-submit").disabled = true;
      $("card-result").textContent = "カードを確認しています…";
      const { ok, data } = await post("/api/reader/present", {
        card: f.card.value, method: method, pin: method === "pin" ? f.pin.value : null,
        face_result: f.face_mismatch.checked ? "mismatch" : "match", consents: consents,
      });
      $("card-submit").disabled = false;
      f.pin.value = "";  // a PIN is never kept on the page
      if (ok) showResult($("card-result"), data);
      else showError($("card-error"), $("card-result"), data, null);
      refreshCards();
    });
  }

  // -- bulk --------------------------------------------------------------------------------
  async function refreshBulk() {
    let rows = [];
    try {
      const response = await fetch("/api/bulk", { cache: "no-store" });
      rows = (await response.json()).requests || [];
    } catch (e) { return; }
    const body = $("bulk").querySelector("tbody");
    body.replaceChildren(...rows.map((r) => {
      const tr = el("tr");
      let state = STAGE[r.stage] || r.stage;
      if (r.outcome && r.outcome !== "ok" && r.stage === "delivered") state = "エラー: " + r.outcome_label;
      else if (r.SegmentOfResult === "2") state = "処理中（結果待ち）";
      tr.append(
        el("td", (r.received_at || "").replace("T", " ")), el("td", r.name),
        el("td", r.kind === "OQSmuquc01" ? "登録" : "結果取得"), el("td", r.ReceptionNumber || "—"),
        el("td", state),
      );
      return tr;
    }));
    $("bulk-empty").hidden = rows.length > 0;
  }

  document.addEventListener("DOMContentLoaded", () => {
    renderBanner();
    setupManual();
    setupCard();
    connect();
    refreshStatus();
    refreshBulk();
    $("insurer").focus();
  });
})();
