// Upload portal: drag-and-drop with per-file progress, and a live document list.
(function () {
  const csrf = document.querySelector("[name=csrfmiddlewaretoken]").value;
  const dropzone = document.getElementById("dropzone");
  const input = document.getElementById("file-input");
  const uploads = document.getElementById("uploads");
  const tbody = document.querySelector("#documents tbody");
  const filter = document.getElementById("status-filter");
  const summary = document.getElementById("summary");
  const target = document.getElementById("upload-collection");

  function text(tag, value, cls) {
    const el = document.createElement(tag);
    el.textContent = value == null ? "" : String(value);
    if (cls) el.className = cls;
    return el;
  }

  function upload(file) {
    const li = document.createElement("li");
    const label = text("span", file.name + " ");
    const bar = document.createElement("progress");
    bar.max = 100; bar.value = 0;
    const result = text("span", "");
    li.append(label, bar, result);
    uploads.prepend(li);
    const form = new FormData();
    form.append("files", file);
    if (target) form.append("collection", target.value);
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "/api/v1/documents");
    xhr.setRequestHeader("X-CSRFToken", csrf);
    xhr.upload.onprogress = (e) => { if (e.lengthComputable) bar.value = (100 * e.loaded) / e.total; };
    xhr.onload = () => {
      bar.value = 100;
      let body = null;
      try { body = JSON.parse(xhr.responseText); } catch (e) { /* not JSON */ }
      const entry = Array.isArray(body) ? body[0] : null;
      if (entry) {
        result.textContent = " " + entry.status + (entry.error ? ": " + entry.error : "");
        result.className = "status status-" + entry.status;
        // A queued file is followed until it is indexed or failed (see follow() below).
        if (entry.status === "queued" && entry.id != null) { li.dataset.documentId = entry.id; following.set(entry.id, result); }
      } else {
        result.textContent = " failed (HTTP " + xhr.status + ")" + (body && body.detail ? ": " + body.detail : "");
        result.className = "status status-failed";
      }
      refresh();
    };
    xhr.onerror = () => { result.textContent = " network error, try again"; result.className = "error"; };
    xhr.send(form);
  }

  function handle(files) { Array.from(files).forEach(upload); }
  if (dropzone) dropzone.addEventListener("dragover", (e) => { e.preventDefault(); dropzone.classList.add("over"); });
  if (dropzone) dropzone.addEventListener("dragleave", () => dropzone.classList.remove("over"));
  if (dropzone) dropzone.addEventListener("drop", (e) => { e.preventDefault(); dropzone.classList.remove("over"); handle(e.dataTransfer.files); });
  if (input) input.addEventListener("change", () => { handle(input.files); input.value = ""; });

  async function act(method, url) {
    const response = await fetch(url, { method: method, headers: { "X-CSRFToken": csrf } });
    if (!response.ok) {
      let body = null;
      try { body = await response.json(); } catch (e) { /* not JSON */ }
      alert((body && body.detail) || "Refused (HTTP " + response.status + ")");
    }
    refresh();
  }

  function row(doc) {
    const tr = document.createElement("tr");
    const name = document.createElement("td");
    const link = text("a", doc.filename);
    link.href = "/documents/" + doc.id + "/";
    name.append(link);
    if (doc.error) name.append(document.createElement("br"), text("small", doc.error, "error"));
    const status = document.createElement("td");
    status.append(text("span", doc.status, "status status-" + doc.status));
    const actions = document.createElement("td");
    if (doc.status === "failed") {
      const retry = text("button", "Retry", "secondary");
      retry.onclick = () => act("POST", "/api/v1/documents/" + doc.id + "/retry");
      actions.append(retry, " ");
    }
    const del = text("button", "Delete", "secondary");
    del.onclick = () => { if (confirm("Delete " + doc.filename + " and its chunks?")) act("DELETE", "/api/v1/documents/" + doc.id); };
    actions.append(del);
    tr.append(name, status, text("td", doc.page_count ?? "–"), text("td", doc.chunk_count),
      text("td", new Date(doc.created_at).toLocaleString()), actions);
    return tr;
  }

  // Uploads still on their way: document id -> the status span of its line under the drop zone.
  const following = new Map();

  function followed(result, doc) {
    result.className = "status status-" + doc.status;
    result.replaceChildren(" " + doc.status);
    if (doc.status === "indexed") {
      const link = text("a", doc.chunk_count + " chunk(s)");
      link.href = "/documents/" + doc.id + "/";
      result.append(" · ", link);
    } else if (doc.error) {
      result.append(": " + doc.error);
    }
    return doc.status === "indexed" || doc.status === "failed";
  }

  async function follow(docs) {
    for (const [id, result] of following) {
      let doc = docs.find((d) => d.id === id);
      if (!doc) {  // filtered out of the table, or deleted meanwhile
        const response = await fetch("/api/v1/documents/" + id, { headers: { Accept: "application/json" } });
        if (response.status === 404) { result.textContent = " deleted"; result.className = "status muted"; following.delete(id); continue; }
        if (!response.ok) continue;
        doc = await response.json();
      }
      if (followed(result, doc)) following.delete(id);
    }
  }

  let timer = null;
  let loading = false;
  let again = false;
  async function refresh() {
    clearTimeout(timer);
    // One load at a time: an upload finishing during a load asks for one more afterwards.
    if (loading) { again = true; return; }
    loading = true;
    try {
      const url = "/api/v1/documents" + (filter.value ? "?status=" + filter.value : "");
      const response = await fetch(url, { headers: { Accept: "application/json" } });
      const docs = await response.json();
      tbody.replaceChildren(...(docs.length ? docs.map(row) : [(() => { const tr = document.createElement("tr"); const td = text("td", "No documents yet: drop some files above.", "muted"); td.colSpan = 6; tr.append(td); return tr; })()]));
      const busy = docs.filter((d) => d.status === "queued" || d.status === "processing").length;
      summary.textContent = docs.length + " document(s)" + (busy ? ", " + busy + " in progress" : "");
      await follow(docs);
      timer = setTimeout(refresh, busy || following.size ? 1500 : 5000);
    } catch (e) {
      summary.textContent = "Could not load the list; retrying…";
      timer = setTimeout(refresh, 5000);
    } finally {
      loading = false;
      if (again) { again = false; refresh(); }
    }
  }
  filter.addEventListener("change", refresh);
  refresh();
})();
