// The try-on demo: two photos in, the documented steps on a progress bar, the result out.
// Plain JavaScript, no build step. URLs are relative, so the page works wherever the service is mounted.
"use strict";

(() => {
  const STEPS = ["segmentation", "pose", "warp", "inpainting", "blend", "done"];
  const ACCEPTED = ["image/jpeg", "image/png", "image/webp"];
  // The output formats the service encodes results in (output_format), as the download names them.
  const FORMATS = {
    png: { type: "image/png", suffix: ".png", name: "PNG" },
    jpeg: { type: "image/jpeg", suffix: ".jpg", name: "JPEG" },
    webp: { type: "image/webp", suffix: ".webp", name: "WebP" },
  };
  let outputFormat = "png";
  const MAX_BYTES = 20 * 1024 * 1024;
  const POLL_MS = 400;
  const MAX_NETWORK_ERRORS = 20;
  const SUBMIT_URL = new URL("api/tryon", document.baseURI);

  const $ = (id) => document.getElementById(id);
  const chosen = { person_image: null, clothing_image: null };
  const previews = {};
  let resultObjectUrl = null;
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
    if (previews[field]) URL.revokeObjectURL(previews[field]);
    previews[field] = URL.createObjectURL(file);
    preview.src = previews[field];
    preview.hidden = false;
    clearResult();
    const ready = chosen.person_image && chosen.clothing_image;
    $("submit").disabled = !ready || running;
    setState("idle", ready ? "Ready: press “Try it on”." : "Now choose the other photo.");
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
    if (resultObjectUrl) URL.revokeObjectURL(resultObjectUrl);
    resultObjectUrl = null;
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

  function showResult(body) {
    let url = body.result_url;
    if (!url) {
      const bytes = Uint8Array.from(atob(body.result_b64), (c) => c.charCodeAt(0));
      resultObjectUrl = URL.createObjectURL(new Blob([bytes], { type: FORMATS[outputFormat].type }));
      url = resultObjectUrl;
    }
    const image = $("result-image");
    image.onload = () => setState("completed", `Done: job ${body.job_id}.`);
    image.onerror = () => setState("error", "The result could not be shown (its link may have expired).");
    image.src = url;
    image.hidden = false;
    const link = $("download");
    link.href = url;
    link.download = `tryon-${body.job_id}${FORMATS[outputFormat].suffix}`;
    link.textContent = `Download ${FORMATS[outputFormat].name}`;
    link.hidden = false;
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

  async function submit(event) {
    event.preventDefault();
    if (running || !chosen.person_image || !chosen.clothing_image) return;
    running = true;
    $("submit").disabled = true;
    clearResult();
    setState("running", "Uploading…");
    const form = new FormData();
    form.append("person_image", chosen.person_image, chosen.person_image.name);
    form.append("clothing_image", chosen.clothing_image, chosen.clothing_image.name);
    form.append("category", $("category").value);
    const bottom = $("bottom-input").files[0]; // a whole outfit: the garment photo is then the top
    if (bottom) form.append("bottom_image", bottom, bottom.name);
    outputFormat = $("output-format").value;
    if (outputFormat !== "png") form.append("output_format", outputFormat); // png is the default
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
      $("submit").disabled = !(chosen.person_image && chosen.clothing_image);
    }
  }

  $("api-key").value = sessionStorage.getItem("tryon-api-key") || "";
  wireInput("person-input", "person-drop", "person-preview");
  wireInput("garment-input", "garment-drop", "garment-preview");
  $("tryon-form").addEventListener("submit", submit);
})();
