// Microphone recording with MediaRecorder: a toggle button that yields a Blob (webm/ogg opus,
// which the backend decodes with ffmpeg).
import { AppError } from "./api.js";

const MAX_SECONDS = 30;

/**
 * Wire a record button: first click starts, second click stops (or MAX_SECONDS does).
 * @param {HTMLButtonElement} button
 * @param {HTMLElement} status  where "recording 3 s" / "recorded 4.2 s" is written
 * @param {(blob: Blob) => void} onDone
 * @param {(err: AppError) => void} onError
 */
export function wireRecorder(button, status, onDone, onError) {
  let recorder = null;
  let started = 0;
  let timer = 0;

  const stop = () => {
    if (recorder && recorder.state !== "inactive") recorder.stop();
  };

  button.addEventListener("click", async () => {
    if (recorder && recorder.state === "recording") {
      stop();
      return;
    }
    if (!navigator.mediaDevices?.getUserMedia || typeof MediaRecorder === "undefined") {
      onError(new AppError("no_recorder", "This browser cannot record audio here; pick a file instead."));
      return;
    }
    let stream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    } catch (err) {
      const refused = err?.name === "NotAllowedError" || err?.name === "SecurityError";
      onError(
        new AppError(
          "microphone",
          refused
            ? "Microphone access was refused. Allow it in the browser's site settings, or pick a file."
            : `No microphone to record from (${err?.name ?? err}). Pick a file instead.`,
        ),
      );
      return;
    }
    const type = ["audio/webm;codecs=opus", "audio/ogg;codecs=opus", "audio/webm"].find((t) =>
      MediaRecorder.isTypeSupported(t),
    );
    recorder = new MediaRecorder(stream, type ? { mimeType: type } : undefined);
    const chunks = [];
    recorder.ondataavailable = (ev) => ev.data.size && chunks.push(ev.data);
    recorder.onstop = () => {
      clearInterval(timer);
      stream.getTracks().forEach((t) => t.stop());
      const seconds = (performance.now() - started) / 1000;
      button.textContent = "● Record";
      button.classList.remove("recording");
      status.textContent = `recorded ${seconds.toFixed(1)} s`;
      onDone(new Blob(chunks, { type: recorder.mimeType || "audio/webm" }));
      recorder = null;
    };
    recorder.start(250);
    started = performance.now();
    button.textContent = "■ Stop";
    button.classList.add("recording");
    timer = setInterval(() => {
      const s = (performance.now() - started) / 1000;
      status.textContent = `recording ${s.toFixed(0)} s`;
      if (s >= MAX_SECONDS) stop();
    }, 250);
  });
}

/** A file name with the right extension for a recorded or picked blob. */
export function fileNameFor(blob, fallback = "recording") {
  if (blob instanceof File && blob.name) return blob.name;
  const ext = (blob.type.match(/audio\/(\w+)/)?.[1] ?? "webm").replace("mpeg", "mp3");
  return `${fallback}.${ext}`;
}
