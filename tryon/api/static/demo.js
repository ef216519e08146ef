// The try-on demo: two photos in (files or URLs), the documented steps on a progress bar, the
// result out. Plain JavaScript, no build step. URLs are relative, so the page works wherever the
// service is mounted. An optional field is sent only when the user sets it, so the plain request
// stays the contract's two photos and category.
"use strict";

(() => {
  const STEPS = ["segmentation", "pose", "warp", "inpainting", "blend", "done"];
  const ACCEPTED = ["image/jpeg", "image/png", "image/webp"];
  const MAX_BYTES = 20 * 1024 * 1024;
  const POLL_MS = 400;
  const MAX_NETWORK_ERRORS = 20;
  const SUBMIT_URL = new URL("api/tryon", document.baseURI);
  const REQUIRED = ["person_image", "clothing_image"];
  const EXTENSIONS = { "image/png": "png", "image/jpeg": "jpg", "image/webp": "webp" };
  const LOSSY = ["jpeg", "webp"];

  const $ = (id) => document.getElementById(id);
  const chosen = { person_image: null, clothing_image: null, bottom_image: null };
  const previews = {};
  let resultObjectUrls = [];
  let requestedType = "image/png";
  let running = false;

  // The key stays in this tab only (sessionStorage), never in the page's URL.
  function authHeaders() {
    const key = $("api-key").value.trim();
    sessionStorage.setItem("tryon-api-key", key);
    return key ? { Authorization: `Bearer ${key}` } : {};
  }

  function setState(state, message) {
    document.body.dataset.state = state;
    if (message !== undefined) $("status").textContent = message;
  }

  function setProgress(progress, step, status) {
    const value = Math.max(0, Math.min(100, Number(progress) || 0));
    $("bar-fill").style.width = `${value}%`;
    $("bar").setAttribute("aria-valuenow", String(value));
    const current = status === "completed" ? STEPS.length : STEPS.indexOf(step);
    document.querySelectorAll("#steps li").forEach((item, index) => {
      item.classList.toggle("passed", index < current || status === "completed");
      item.classList.toggle("current", index === current && status !== "completed");
    });
  }

  // The URL typed for a photo field ("" when none; only the person and garment photos have one).
  function urlOf(field) {
    const input = document.querySelector(`input[data-field="${field}_url"]`);
    return input ? input.value.trim() : "";
  }

  function ready() {
    return REQUIRED.every((field) => chosen[field] || urlOf(field));
  }

  function showReadiness() {
    $("submit").disabled = !ready() || running;
    setState("idle", ready() ? "Ready: press “Try it on”." : "Now choose the other photo.");
  }

  function showPreview(field, preview, src) {
    if (previews[field]) URL.revokeObjectURL(previews[field]);
    previews[field] = null;
    preview.hidden = !src;
    if (src) preview.src = src;
    else preview.removeAttribute("src");
  }

  function choose(field, file, preview) {
    if (!file) return;
    if (file.type && !ACCEPTED.includes(file.type)) {
      setState("error", `${file.name}: choose a JPG, PNG or WEBP photo (this one is ${file.type}).`);
      return;
    }
    if (file.size > MAX_BYTES) {
      setState("error", `${file.name} is larger than 20 MB.`);
      return;
    }
    chosen[field] = file;
    const urlInput = document.querySelector(`input[data-field="${field}_url"]`);
    if (urlInput) urlInput.value = "";  // a photo is sent one way: the file replaces the URL
    showPreview(field, preview, URL.createObjectURL(file));
    previews[field] = preview.src;
    clearResult();
    showReadiness();
  }

  // A URL typed for a photo replaces its file; the service fetches it. The browser previews it once
  // typed (on "change", not on each key), and hides a preview it cannot load: the service may.
  function wireUrl(urlId, fileId, previewId) {
    const input = $(urlId);
    const field = $(fileId).dataset.field;
    const preview = $(previewId);
    input.addEventListener("input", () => {
      if (input.value.trim() || !chosen[field]) {
        chosen[field] = null;
        $(fileId).value = "";
        showPreview(field, preview, "");
      }
      clearResult();
      showReadiness();
    });
    input.addEventListener("change", () => {
      if (!chosen[field]) showPreview(field, preview, input.value.trim());
    });
    preview.addEventListener("error", () => {
      preview.hidden = true;
    });
  }

  function wireInput(inputId, dropId, previewId) {
    const input = $(inputId);
    const drop = $(dropId);
    const preview = $(previewId);
    const field = input.dataset.field;
    input.addEventListener("change", () => choose(field, input.files[0], preview));
    ["dragenter", "dragover"].forEach((type) =>
      drop.addEventListener(type, (event) => {
        event.preventDefault();
        drop.classList.add("over");
      }),
    );
    ["dragleave", "drop"].forEach((type) =>
      drop.addEventListener(type, () => drop.classList.remove("over")),
    );
    drop.addEventListener("drop", (event) => {
      event.preventDefault();
      choose(field, event.dataTransfer.files[0], preview);
    });
  }

  function clearResult() {
    const image = $("result-image");
    image.hidden = true;
    image.removeAttribute("src");
    $("download").hidden = true;
    $("results").hidden = true;
    $("results").replaceChildren();
    resultObjectUrls.forEach((url) => URL.revokeObjectURL(url));
    resultObjectUrls = [];
    setProgress(0, null, "idle");
  }

  // The server's reason: "detail" (a 400) or "detail.error" (a failed job).
  function reasonOf(body, response) {
    const detail = body && body.detail;
    if (detail && typeof detail === "object" && detail.error) return detail.error;
    if (typeof detail === "string") return detail;
    return `The server answered HTTP ${response.status}.`;
  }

  async function readJson(response) {
    try {
      return await response.json();
    } catch {
      return null;
    }
  }

  // A picture's type from its first bytes: the service sends PNG, JPEG or WebP.
  function sniffType(bytes) {
    if (bytes[0] === 0xff && bytes[1] === 0xd8) return "image/jpeg";
    if (String.fromCharCode(...bytes.subarray(8, 12)) === "WEBP") return "image/webp";
    return "image/png";
  }

  // {url, type, seed} of one picture of the answer: its result_url (of the format asked for) or
  // its result_b64 as a blob URL.
  function pictureOf(entry) {
    if (entry.result_url) return { url: entry.result_url, type: requestedType, seed: entry.seed };
    const bytes = Uint8Array.from(atob(entry.result_b64), (c) => c.charCodeAt(0));
    const type = sniffType(bytes);
    const url = URL.createObjectURL(new Blob([bytes], { type }));
    resultObjectUrls.push(url);
    return { url, type, seed: entry.seed };
  }

  function setDownload(link, picture, name) {
    const extension = EXTENSIONS[picture.type] || "png";
    link.href = picture.url;
    link.download = `${name}.${extension}`;
    link.textContent = `Download ${extension.toUpperCase()}`;
    link.hidden = false;
  }

  function galleryItem(picture, index, jobId) {
    const figure = document.createElement("figure");
    const image = document.createElement("img");
    image.src = picture.url;
    image.alt = `Picture ${index + 1} of the job`;
    const caption = document.createElement("figcaption");
    const label = document.createElement("span");
    label.textContent = picture.seed === undefined ? `#${index + 1}` : `#${index + 1} · seed ${picture.seed}`;
    const link = document.createElement("a");
    setDownload(link, picture, `tryon-${jobId}-${index + 1}`);
    caption.append(label, link);
    figure.append(image, caption);
    return figure;
  }

  // The first picture in the result panel; with several (``results``), every one below, each
  // with its seed and its own download link.
  function showResult(body) {
    const entries = Array.isArray(body.results) && body.results.length ? body.results : [body];
    const pictures = entries.map(pictureOf);
    const notes = Array.isArray(body.notes) && body.notes.length ? ` ${body.notes.join(" ")}` : "";
    const image = $("result-image");
    image.onload = () => setState("completed", `Done: job ${body.job_id}.${notes}`);
    image.onerror = () => setState("error", "The result could not be shown (its link may have expired).");
    image.src = pictures[0].url;
    image.hidden = false;
    setDownload($("download"), pictures[0], `tryon-${body.job_id}`);
    if (pictures.length > 1) {
      $("results").replaceChildren(...pictures.map((picture, index) => galleryItem(picture, index, body.job_id)));
      $("results").hidden = false;
    }
  }

  async function poll(jobId, started) {
    let networkErrors = 0;
    while (true) {
      let response;
      let body;
      try {
        response = await fetch(new URL(`api/tryon/${encodeURIComponent(jobId)}`, document.baseURI), {
          cache: "no-store",
          headers: authHeaders(),
        });
        body = await readJson(response);
        networkErrors = 0;
      } catch (error) {
        networkErrors += 1;
        if (networkErrors > MAX_NETWORK_ERRORS) throw new Error("Lost the connection to the service.");
        setState("running", "Connection lost; retrying…");
        await new Promise((resolve) => setTimeout(resolve, POLL_MS * 2));
        continue;
      }
      if (!body || !body.status) throw new Error(reasonOf(body, response));
      const seconds = ((performance.now() - started) / 1000).toFixed(1);
      if (body.status === "failed") {
        setProgress(body.progress, body.step, "failed");
        setState("failed", `The try-on failed: ${reasonOf(body, response)}`);
        return;
      }
      if (body.status === "completed") {
        setProgress(100, "done", "completed");
        setState("running", `Finished in ${seconds} s; loading the result…`);
        showResult(body);
        return;
      }
      if (body.status === "pending") {
        setProgress(0, null, "pending");
        setState("running", `Queued (${seconds} s)…`);
      } else {
        setProgress(body.progress, body.step, body.status);
        setState("running", `${body.step || "working"} — ${body.progress}% (${seconds} s)`);
      }
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  }

  // The request: each photo as a file or its URL, the category, and only the options the user set.
  function requestForm() {
    const form = new FormData();
    for (const field of Object.keys(chosen)) {
      if (chosen[field]) form.append(field, chosen[field], chosen[field].name);
      else if (urlOf(field)) form.append(`${field}_url`, urlOf(field));
    }
    form.append("category", $("category").value);
    document.querySelectorAll("[data-option]").forEach((control) => {
      if (!control.disabled && control.value.trim() !== "") form.append(control.dataset.option, control.value.trim());
    });
    return form;
  }

  async function submit(event) {
    event.preventDefault();
    if (running || !ready()) return;
    running = true;
    $("submit").disabled = true;
    clearResult();
    setState("running", "Uploading…");
    const form = requestForm();
    requestedType = `image/${$("output-format").value || "png"}`;
    try {
      const response = await fetch(SUBMIT_URL, { method: "POST", body: form, headers: authHeaders() });
      const body = await readJson(response);
      if (response.status === 401) {
        $("key-box").open = true;
        $("api-key").focus();
        setState("failed", `This service needs an API key: enter it below and try again. (${reasonOf(body, response)})`);
        return;
      }
      if (response.status !== 202 || !body || !body.job_id) {
        setState("failed", `Not accepted: ${reasonOf(body, response)}`);
        return;
      }
      document.body.dataset.jobId = body.job_id;
      setState("running", "Queued…");
      await poll(body.job_id, performance.now());
    } catch (error) {
      setState("error", error.message || String(error));
    } finally {
      running = false;
      $("submit").disabled = !ready();
    }
  }

  $("api-key").value = sessionStorage.getItem("tryon-api-key") || "";
  wireInput("person-input", "person-drop", "person-preview");
  wireInput("garment-input", "garment-drop", "garment-preview");
  wireUrl("person-url", "person-input", "person-preview");
  wireUrl("garment-url", "garment-input", "garment-preview");
  $("bottom-input").addEventListener("change", () => {
    const file = $("bottom-input").files[0];
    if (file) choose("bottom_image", file, $("bottom-preview"));
    else chosen.bottom_image = null;  // the dialog was cancelled: no bottom garment
    $("bottom-preview").hidden = !chosen.bottom_image;
  });
  $("output-format").addEventListener("change", () => {
    $("output-quality").disabled = !LOSSY.includes($("output-format").value);
  });
  $("tryon-form").addEventListener("submit", submit);
})();
