// The backend's /v1 API as small async functions. Every failure becomes an AppError whose message
// a person can act on: the backend being down, an error the API explains ({"error": {code,
// message}}), or an answer that is not what the page expects.

/** An error with a machine code (the API's `error.code`, or one of ours) and a readable message. */
export class AppError extends Error {
  /**
   * @param {string} code
   * @param {string} message
   * @param {{status?: number, details?: unknown}} [extra]
   */
  constructor(code, message, extra = {}) {
    super(message);
    this.name = "AppError";
    this.code = code;
    this.status = extra.status ?? 0;
    this.details = extra.details;
  }
}

const BACKEND_DOWN =
  "The MIAO AI backend is not answering. Is it running (`make demo`)? Reload the page once it is up.";

/** Told when the API answers again after it was unreachable (the page's status pill). */
export const backendWatch = { down: false, onUp: null };

/**
 * Call the API. JSON bodies are sent as JSON, FormData as multipart. The session cookie set at
 * sign-in goes with every call (same origin), so no token is kept in the page.
 * @param {string} path  e.g. "/v1/auth/me"
 * @param {{method?: string, json?: unknown, form?: FormData, signal?: AbortSignal}} [opts]
 * @returns {Promise<any>}
 */
export async function api(path, opts = {}) {
  const init = { method: opts.method ?? (opts.json || opts.form ? "POST" : "GET"), headers: {} };
  if (opts.json !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(opts.json);
  } else if (opts.form) {
    init.body = opts.form;
  }
  init.credentials = "same-origin";
  init.signal = opts.signal;
  let reply;
  try {
    reply = await fetch(path, init);
  } catch (err) {
    if (err?.name === "AbortError") throw err;
    backendWatch.down = true;
    throw new AppError("backend_down", BACKEND_DOWN);
  }
  if (backendWatch.down && reply.status < 500) {
    backendWatch.down = false;
    backendWatch.onUp?.();
  }
  const type = reply.headers.get("content-type") ?? "";
  let body = null;
  if (type.includes("application/json")) {
    try {
      body = await reply.json();
    } catch {
      body = null;
    }
  }
  if (!reply.ok) {
    if (reply.status === 502 || reply.status === 504 || (reply.status === 503 && !body?.error)) {
      throw new AppError("backend_down", BACKEND_DOWN, { status: reply.status });
    }
    const err = body?.error;
    const message = err?.message ?? `${reply.status} ${reply.statusText || "error"}`;
    throw new AppError(err?.code ?? `http_${reply.status}`, message, {
      status: reply.status,
      details: err?.details,
    });
  }
  return body;
}

/** The URL that serves a pinned file's bytes (audio, spectrogram PNG, metadata JSON). */
export const ipfsUrl = (cid) => `/v1/ipfs/${encodeURIComponent(cid)}`;

/** `ipfs://CID` -> CID (token URIs and metadata use that form). */
export const cidOf = (uri) => (uri ?? "").replace(/^ipfs:\/\//, "").split("/")[0];

/**
 * Follow a job's server-sent events until a terminal stage.
 * @param {string} jobId
 * @param {(stage: string, data: any) => void} onEvent  called for every stage, in order
 * @param {string[]} terminal  stages that end the job (its last event)
 * @returns {Promise<{stage: string, data: any}>}  the terminal event; rejects on `failed`
 */
export function followJob(jobId, onEvent, terminal) {
  return new Promise((resolve, reject) => {
    const source = new EventSource(`/v1/jobs/${encodeURIComponent(jobId)}/events`);
    const seen = new Set();
    let errors = 0;
    const stages = [
      "received", "pinned", "registered", "labelling", "labelled", "generating", "minted", "failed",
    ];
    const handle = (ev) => {
      let payload;
      try {
        payload = JSON.parse(ev.data);
      } catch {
        return;
      }
      errors = 0;
      // a reconnect resumes after Last-Event-ID; this guards against a repeat anyway
      const key = `${payload.seq}`;
      if (seen.has(key)) return;
      seen.add(key);
      const stage = payload.stage ?? ev.type;
      const data = payload.data ?? {};
      onEvent(stage, data);
      if (stage === "failed") {
        source.close();
        reject(new AppError("job_failed", `The job failed: ${data.reason ?? "no reason given"}`));
      } else if (terminal.includes(stage)) {
        source.close();
        resolve({ stage, data });
      }
    };
    for (const stage of stages) source.addEventListener(stage, handle);
    source.onerror = async () => {
      // EventSource reconnects by itself; give up if the backend stays away
      errors += 1;
      if (errors >= 5) {
        source.close();
        try {
          const job = await api(`/v1/jobs/${encodeURIComponent(jobId)}`);
          reject(new AppError("stream_lost", `Lost the progress stream; the job is at "${job.stage}".`));
        } catch (err) {
          reject(err);
        }
      }
    };
  });
}
