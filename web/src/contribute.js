// Contributing a sound: upload, then a relayed (EIP-712 signed) or direct (wallet-sent)
// registration, the job's stages live over SSE, and the on-chain labels.
import { abi as registryAbi } from "../../contracts/artifacts/SoundRegistry.json";
import { AppError, api, followJob, ipfsUrl } from "./api.js";
import { action, notify, requireChain, requireSignedIn, state } from "./app.js";
import { loadDataset, loadMine } from "./browse.js";
import { $, el, facts, hexCell, short, table } from "./dom.js";
import { fileNameFor } from "./recorder.js";
import { sendContractTx, signTypedDataV4 } from "./wallet.js";

const KINDS = ["cat", "dog", "infant", "other"];
const UPLOAD_STAGES = ["received", "pinned", "registered", "labelling", "labelled"];

function stageList(list, stages) {
  list.hidden = false;
  list.replaceChildren(...stages.map((s) => el("li", { dataset: { stage: s } }, s)));
}

function markStage(list, stage, detail = "") {
  let item = list.querySelector(`[data-stage="${stage}"]`);
  if (!item) {
    item = el("li", { dataset: { stage } }, stage);
    list.append(item);
  }
  for (const li of list.children) {
    if (li === item) break;
    if (!li.classList.contains("failed")) li.classList.add("done");
  }
  item.classList.add(stage === "failed" ? "failed" : "done");
  item.textContent = detail ? `${stage}: ${detail}` : stage;
}

export async function doUpload() {
  requireSignedIn("uploading");
  const blob = state.upload;
  if (!blob) throw new AppError("no_file", "Record a sound or pick a file first.");
  const kind = $("kind-select").value;
  const mode = document.querySelector('input[name="register-mode"]:checked').value;
  if (mode === "direct") await requireChain("registering from your wallet");
  const form = new FormData();
  form.append("file", blob, fileNameFor(blob));
  form.append("kind", kind);
  form.append("contributor_label", $("contributor-label").value.trim());
  const list = $("upload-stages");
  const result = $("upload-result");
  result.hidden = true;
  result.replaceChildren();
  stageList(list, UPLOAD_STAGES);
  let upload;
  try {
    upload = await api("/v1/sounds", { form });
  } catch (err) {
    list.hidden = true;
    throw await explainUploadError(err, blob);
  }
  markStage(list, "received");
  // follow the job first, so no stage is missed while the registration is on its way
  const done = followJob(upload.job_id, (stage, data) => markStage(list, stage, stageDetail(stage, data)), [
    "labelled",
  ]);
  done.catch(() => {}); // reported by finish(), once the registration went through
  const finish = async () => {
    const { data } = await done;
    showLabels(result, upload, data);
    notify(`Labelled on-chain: ${data.label} (${pct(data.confidence)}).`, "ok");
    loadDataset();
    loadMine();
  };
  try {
    await registerOnce(upload, mode, kind);
  } catch (err) {
    offerRetry(upload, mode, kind, result, finish);
    throw err;
  }
  await finish();
}

function stageDetail(stage, data) {
  if (stage === "pinned" && data.cid) return short(data.cid, 8);
  if (stage === "registered" && data.tx_hash) return `tx ${short(data.tx_hash)}`;
  if (stage === "labelled" && data.label) return data.label;
  if (stage === "failed") return data.reason ?? "";
  return "";
}

export async function explainUploadError(err, blob) {
  if (!(err instanceof AppError)) return err;
  if (err.status === 413 || err.code === "too_large") {
    return new AppError(
      "too_large",
      `That file (${mb(blob.size)}) is over the server's upload limit: ${err.message}. Trim it or pick a shorter clip.`,
      { status: 413 },
    );
  }
  if (err.code === "backend_down" && blob.size > 1024 * 1024) {
    // a large body refused early can look like a dropped connection to the browser
    try {
      await api("/v1/health");
      return new AppError(
        "too_large",
        `The server cut the upload of ${mb(blob.size)} off: the file is most likely over its upload limit.`,
        { status: 413 },
      );
    } catch {
      return err;
    }
  }
  if (err.status === 409) {
    const existing = Array.isArray(err.details) ? err.details[0] : null;
    const id = existing?.id ?? existing?.sound_id;
    return new AppError("duplicate", `This recording is in the dataset already${id ? ` (sound ${short(id)})` : ""}.`, {
      status: 409,
    });
  }
  if (err.status === 415 || err.status === 422) {
    return new AppError(err.code, `The server could not use that file: ${err.message}`, { status: err.status });
  }
  return err;
}

export const mb = (bytes) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;
export const pct = (x) => `${(100 * Number(x)).toFixed(1)} %`;

/** The sound is pinned but its registration failed (e.g. a rejected signature): try again. */
function offerRetry(upload, mode, kind, result, finish) {
  const again = el("button", { type: "button", id: "register-retry", class: "primary" }, "Register it again");
  action(again, async () => {
    let fresh = upload;
    if (mode === "relayed") {
      // fresh typed data: the deadline may have passed or the nonce moved on
      const typed = await api(`/v1/sounds/${upload.sound_id}/registration`);
      fresh = { ...upload, typed_data: typed.typed_data };
    }
    await registerOnce(fresh, mode, kind);
    again.remove();
    await finish();
  });
  result.replaceChildren(
    el("p", {}, `The sound is pinned to IPFS (${short(upload.cid, 8)}) but not registered on-chain yet.`),
    again,
  );
  result.hidden = false;
}

/** Register relayed (sign EIP-712, the server sends it) or directly from the wallet (it pays). */
async function registerOnce(upload, mode, kind) {
  if (mode === "relayed") {
    await requireChainIfKnown();
    const signature = await signTypedDataV4(state.address, upload.typed_data, "the registration signature");
    const { nonce, deadline } = upload.typed_data.message;
    await api(upload.register_url ?? `/v1/sounds/${upload.sound_id}/register`, {
      json: { signature, message: { nonce, deadline } },
    });
    return;
  }
  const info = await requireChain("registering from your wallet");
  const contract = info.sound_registry ?? upload.typed_data.domain.verifyingContract;
  await sendContractTx(
    state.address,
    info,
    {
      abi: registryAbi,
      contract,
      functionName: "registerSound",
      args: [upload.sound_id, KINDS.indexOf(kind), upload.cid, $("contributor-label").value.trim()],
    },
    "the registration transaction",
  );
}

/** Wallets refuse typed data whose domain names another chain; say so before they do. */
async function requireChainIfKnown() {
  try {
    await requireChain("signing");
  } catch (err) {
    if (err.code === "wrong_chain") throw err;
  }
}

function showLabels(result, upload, data) {
  const rows = (data.labels ?? []).map((l) => [
    l.task,
    el("strong", {}, l.label),
    pct(l.confidence_bps / 10000),
    hexCell(l.model_id),
    hexCell(l.tx_hash),
  ]);
  result.replaceChildren(
    el("h3", {}, "Labelled on-chain"),
    facts([
      ["Label", el("strong", { id: "result-label" }, data.label), "label"],
      ["Confidence", el("span", { id: "result-confidence" }, pct(data.confidence)), "confidence"],
      ["Model id", hexCell(data.model_id, 10), "model_id"],
      ["Label tx", el("code", { id: "result-tx", title: data.tx_hash }, data.tx_hash), "tx_hash"],
      ["Sound id", hexCell(upload.sound_id, 10), "sound_id"],
      ["IPFS", el("a", { href: ipfsUrl(upload.cid), target: "_blank" }, short(upload.cid, 10))],
      data.flagged ? ["Flagged", data.flag_reason ?? "yes"] : ["", ""],
    ]),
    rows.length ? table(["task", "label", "confidence", "model", "tx"], rows, { class: "labels" }) : "",
  );
  result.hidden = false;
}
