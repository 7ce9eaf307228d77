// Chat page: conversations, streamed answers (SSE over fetch), numbered citations and a source panel.
// Everything from the server or the user is inserted with textContent, except a finished answer's
// answer_html, which the server renders from Markdown and sanitises (chat/rendering.py).
(function () {
  const csrf = document.querySelector("[name=csrfmiddlewaretoken]").value;
  const $ = (id) => document.getElementById(id);
  const state = { conversation: null, controller: null, lastQuestion: "" };

  function el(tag, text, cls) {
    const node = document.createElement(tag);
    if (text != null) node.textContent = text;
    if (cls) node.className = cls;
    return node;
  }
  async function api(method, url, body) {
    const response = await fetch(url, {
      method, headers: { "Content-Type": "application/json", "X-CSRFToken": csrf },
      body: body ? JSON.stringify(body) : undefined,
    });
    if (!response.ok && response.status !== 204) throw new Error((await response.json()).detail || response.status);
    return response.status === 204 ? null : response.json();
  }

  // -- conversations --
  // The sidebar lists the conversations started on this page; those started through the API
  // (scripts, the OpenAI-compatible /v1) are kept apart, folded, below them.
  async function loadConversations() {
    const [own, others] = await Promise.all([
      api("GET", "/api/v1/conversations?source=browser"), api("GET", "/api/v1/conversations?source=api"),
    ]);
    $("conversations").replaceChildren(...conversationItems(own));
    $("api-conversations").replaceChildren(...conversationItems(others));
    $("api-conversations-count").textContent = others.length;
    $("api-conversations-box").hidden = others.length === 0;
    if (others.some((c) => c.id === state.conversation)) $("api-conversations-box").open = true;
  }
  function conversationItems(list) {
    return list.map((c) => {
      const li = el("li", null, c.id === state.conversation ? "active" : "");
      const open = el("a", c.title || "Untitled"); open.href = "#"; open.onclick = (e) => { e.preventDefault(); openConversation(c.id); };
      const rename = el("button", "Rename", "link"); rename.onclick = async () => {
        const title = prompt("New title", c.title); if (title) { await api("PATCH", `/api/v1/conversations/${c.id}`, { title }); loadConversations(); }
      };
      const del = el("button", "Delete", "link"); del.onclick = async () => {
        if (confirm("Delete this conversation?")) { await api("DELETE", `/api/v1/conversations/${c.id}`); if (state.conversation === c.id) newConversation(); loadConversations(); }
      };
      li.append(open, " ", rename, " ", del);
      return li;
    });
  }
  async function openConversation(id) {
    const conversation = await api("GET", `/api/v1/conversations/${id}`);
    state.conversation = id;
    $("collection").value = conversation.collection;
    $("messages").replaceChildren();
    conversation.answers.forEach((a) => { const view = addExchange(a.question); finish(view, a); });
    loadConversations();
  }
  function newConversation() { state.conversation = null; $("messages").replaceChildren(); loadConversations(); }

  // -- answers --
  function addExchange(question) {
    const box = el("div", null, "card exchange");
    box.append(el("p", question, "question"));
    const answer = el("div", "", "answer");
    const meta = el("div", "", "muted small");
    const actions = el("div", null, "actions");
    box.append(answer, meta, actions);
    $("messages").append(box);
    box.scrollIntoView({ block: "end" });
    return { box, answer, meta, actions, text: "" };
  }
  function renderAnswer(target, answer) {
    // answer_html is the answer's Markdown rendered by the server with raw HTML disabled and then
    // cleaned by an allowlist (chat/rendering.py: no scripts, no images, no event handlers); its
    // [n] markers arrive as button.cite[data-n], wired here to open the cited passage.
    const byNumber = new Map((answer.citations || []).map((c) => [c.n, c]));
    target.innerHTML = answer.answer_html;
    target.classList.add("rendered");
    target.querySelectorAll("button.cite").forEach((button) => {
      const citation = byNumber.get(Number(button.dataset.n));
      if (!citation) { button.replaceWith(document.createTextNode(button.textContent)); return; }
      button.title = `${citation.filename}${citation.page ? ", page " + citation.page : ""}`;
      button.onclick = () => openSource(citation);
    });
    target.querySelectorAll("a[href]").forEach((link) => { link.target = "_blank"; });
  }
  function finish(view, answer) {
    renderAnswer(view.answer, answer);
    view.meta.textContent = `${answer.abstained ? "Not in the documents · " : ""}answered by ${answer.backend}${answer.notice ? " · " + answer.notice : ""}`;
    const sources = el("ol", null, "sources");
    answer.citations.forEach((c) => {
      const li = el("li"); const link = el("a", `${c.filename}${c.page ? ", p. " + c.page : ""}`); link.href = "#";
      link.onclick = (e) => { e.preventDefault(); openSource(c); };
      li.value = c.n; li.append(link, el("span", ` “${c.quote}”`, "muted small")); sources.append(li);
    });
    view.box.insertBefore(sources, view.actions);
    if ((answer.unsupported || []).length) {
      // Sentences no cited passage supports: said so, beside the answer, never as a citation.
      const warning = el("div", null, "unsupported small");
      warning.append(el("strong", "Not supported by the cited passages: "));
      answer.unsupported.forEach((s, i) => warning.append(el("span", `${i ? " · " : ""}“${s}”`)));
      view.box.insertBefore(warning, view.actions);
    }
    if (answer.related && answer.related.length) {
      // Not citations: the nearest passages, for the reader to look at themselves.
      const related = el("div", null, "related muted small");
      related.append(el("p", "Related passages (they do not answer the question):"));
      const list = el("ul");
      answer.related.forEach((r) => {
        list.append(el("li", `${r.filename}${r.page ? ", p. " + r.page : ""}: “${r.excerpt}”`));
      });
      related.append(list);
      view.box.insertBefore(related, view.actions);
    }
    const copy = el("button", "Copy", "secondary"); copy.type = "button";
    copy.onclick = () => { navigator.clipboard && navigator.clipboard.writeText(answer.answer); event(answer.answer_id, "copied"); };
    const regenerate = el("button", "Regenerate", "secondary"); regenerate.type = "button";
    regenerate.onclick = () => { event(answer.answer_id, "regenerated"); ask(answer.question, { fresh: true }); };
    const up = el("button", "👍 Helpful", "secondary"); up.type = "button";
    const down = el("button", "👎 Not helpful", "secondary"); down.type = "button";
    const voteForm = el("span", null, "vote-form"); voteForm.hidden = true;
    const reason = el("select"); ["wrong_answer", "wrong_source", "missing_source", "incomplete", "outdated", "unsafe", "other"]
      .forEach((r) => { const o = el("option", r.replace("_", " ")); o.value = r; reason.append(o); });
    const comment = el("input"); comment.placeholder = "What was wrong? (optional)";
    const send = el("button", "Send", "secondary"); send.type = "button";
    voteForm.append(reason, comment, send);
    const voted = el("span", "", "muted small voted");
    // The user's vote, as stored (a reopened conversation brings it back); pressing the chosen
    // button again withdraws it.
    let current = answer.vote || null;
    function showVote(thanks) {
      const rating = current ? current.rating : null;
      up.classList.toggle("chosen", rating === "up"); up.setAttribute("aria-pressed", String(rating === "up"));
      down.classList.toggle("chosen", rating === "down"); down.setAttribute("aria-pressed", String(rating === "down"));
      const said = rating === "up" ? " You found this helpful." : rating === "down"
        ? " You found this not helpful" + (current.reasons.length ? ` (${current.reasons.join(", ").replaceAll("_", " ")})` : "") + "." : "";
      voted.textContent = said + (thanks && rating ? " Thanks for the feedback." : "");
      if (rating === "down") { if (current.reasons[0]) reason.value = current.reasons[0]; comment.value = current.comment || ""; }
    }
    async function vote(rating, reasons, text) {
      const saved = await api("POST", `/api/v1/answers/${answer.answer_id}/feedback`, { rating, reasons, comment: text || "" });
      current = saved.rating ? saved : null; voteForm.hidden = true; showVote(true);
    }
    up.onclick = () => vote(current && current.rating === "up" ? null : "up", []);
    down.onclick = () => { if (current && current.rating === "down") vote(null, []); else voteForm.hidden = false; };
    send.onclick = () => vote("down", [reason.value], comment.value);
    showVote(false);
    view.actions.replaceChildren(copy, " ", regenerate, " ", up, " ", down, " ", voteForm, voted);
    view.box.dataset.answerId = answer.answer_id;
  }
  function event(answerId, type) {
    fetch(`/api/v1/answers/${answerId}/events`, { method: "POST", headers: { "Content-Type": "application/json", "X-CSRFToken": csrf }, body: JSON.stringify({ type }) }).catch(() => {});
  }

  async function openSource(citation) {
    const panel = $("source");
    panel.hidden = false;
    $("source-title").textContent = citation.filename;
    const chunk = await api("GET", `/api/v1/chunks/${citation.chunk_id}`);
    $("source-meta").textContent = [chunk.page_start ? `page ${chunk.page_start}` : "", (chunk.heading_path || []).join(" › ")].filter(Boolean).join(" · ");
    const text = $("source-text"); text.replaceChildren();
    // The citation's own span of the chunk (the same words can stand twice in it); its quote's
    // first occurrence for citations made before spans were recorded.
    const exact = citation.start != null && chunk.text.slice(citation.start, citation.end) === citation.quote;
    const at = exact ? citation.start : chunk.text.indexOf(citation.quote);
    if (at >= 0) {
      text.append(document.createTextNode(chunk.text.slice(0, at)), el("mark", citation.quote), document.createTextNode(chunk.text.slice(at + citation.quote.length)));
    } else { text.textContent = chunk.text; }
    const mark = text.querySelector("mark"); if (mark) mark.scrollIntoView({ block: "center" });
    $("source-link").href = `/documents/${chunk.document_id}/file${chunk.content_type === "application/pdf" && chunk.page_start ? "#page=" + chunk.page_start : ""}`;
    const box = document.querySelector(`[data-answer-id]`); if (box) event(box.dataset.answerId, "citation_opened");
  }
  $("close-source").onclick = () => { $("source").hidden = true; };

  async function ask(question, { fresh = false } = {}) {
    state.lastQuestion = question;
    const view = addExchange(question);
    state.controller = new AbortController();
    $("send").disabled = true; $("stop").hidden = false;
    try {
      const response = await fetch("/api/v1/chat", {
        method: "POST", signal: state.controller.signal,
        headers: { "Content-Type": "application/json", "X-CSRFToken": csrf, Accept: "text/event-stream" },
        body: JSON.stringify({ question, conversation_id: state.conversation, collection: $("collection").value, stream: true, cache: !fresh }),
      });
      if (!response.ok) throw new Error((await response.json()).detail || `HTTP ${response.status}`);
      const reader = response.body.getReader(); const decoder = new TextDecoder(); let buffer = "";
      for (;;) {
        const { value, done } = await reader.read(); if (done) break;
        buffer += decoder.decode(value, { stream: true });
        let cut;
        while ((cut = buffer.indexOf("\n\n")) >= 0) {
          const block = buffer.slice(0, cut); buffer = buffer.slice(cut + 2);
          const name = (block.match(/^event: (.*)$/m) || [])[1]; const data = JSON.parse((block.match(/^data: (.*)$/m) || [, "null"])[1]);
          if (name === "token") { view.text += data.text; view.answer.textContent = view.text; }
          else if (name === "done") { state.conversation = data.conversation_id; finish(view, data); loadConversations(); }
          else if (name === "error") { view.meta.textContent = "Error: " + data.detail; }
        }
      }
    } catch (error) {
      view.meta.textContent = error.name === "AbortError" ? "Stopped." : "Could not answer: " + error.message;
    } finally { $("send").disabled = false; $("stop").hidden = true; state.controller = null; }
  }
  $("ask").addEventListener("submit", (e) => { e.preventDefault(); const q = $("question").value.trim(); if (q) { $("question").value = ""; ask(q); } });
  $("question").addEventListener("keydown", (e) => { if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); $("ask").requestSubmit(); } });
  $("stop").onclick = () => state.controller && state.controller.abort();
  $("new-conversation").onclick = newConversation;
  // A conversation stays in its collection: picking another one starts a new conversation.
  $("collection").addEventListener("change", () => { if (state.conversation) newConversation(); });
  loadConversations();
})();
