// Meows: generated from a mood or turned from a voice, played with their spectrogram, and minted
// by the server or by redeeming a voucher from the wallet.
import { decodeEventLog } from "viem";

import { abi as meowNftAbi } from "../../contracts/artifacts/MeowNFT.json";
import { AppError, api, followJob, ipfsUrl } from "./api.js";
import { action, notify, requireChain, requireSignedIn, state } from "./app.js";
import { loadDataset, loadMine } from "./browse.js";
import { explainUploadError } from "./contribute.js";
import { $, el, facts, hexCell, short } from "./dom.js";
import { fileNameFor } from "./recorder.js";
import { sendContractTx } from "./wallet.js";

export async function loadMoods() {
  try {
    const { moods } = await api("/v1/meows/moods");
    for (const id of ["mood-select", "voice-mood-select"]) {
      $(id).replaceChildren(...moods.map((m) => el("option", { value: m, selected: m === "happy" }, m)));
    }
  } catch (err) {
    if (err.code === "backend_down") throw err;
    // an older backend without meows: leave the defaults, the buttons will explain
  }
}

function genProgress(stage, data) {
  $("gen-progress").hidden = false;
  const steps = { received: 0.05, generating: 0.1, pinned: 0.9, registered: 1, minted: 1 };
  let frac = steps[stage] ?? 0;
  if (stage === "generating" && typeof data.progress === "number") frac = 0.1 + 0.8 * data.progress;
  $("gen-bar").style.width = `${Math.round(100 * frac)}%`;
  $("gen-stage").textContent =
    stage === "generating" && typeof data.progress === "number"
      ? `generating ${Math.round(100 * data.progress)} %`
      : stage;
  $("gen-progress").dataset.stage = stage;
}

async function runGeneration(start) {
  $("meow-result").hidden = true;
  genProgress("received", {});
  const accepted = await start();
  const { data } = await followJob(accepted.job_id, genProgress, ["registered"]);
  const meow = data.meow_id ? await api(`/v1/meows/${data.meow_id}`).catch(() => null) : null;
  showMeow({ ...data, ...(meow ?? {}), id: meow?.id ?? data.meow_id, tx_hash: data.tx_hash });
  notify("Your meow is made and registered on-chain.", "ok");
  loadDataset();
  loadMine();
}

export async function doMeow() {
  requireSignedIn("making a meow");
  const seconds = Number($("meow-seconds").value || 2);
  const seedText = $("meow-seed").value.trim();
  const body = { mood: $("mood-select").value, seconds };
  if (seedText) body.seed = Number(seedText);
  await runGeneration(() => api("/v1/meows", { json: body }));
}

export async function doCatify() {
  requireSignedIn("catifying your voice");
  if (!state.voice) throw new AppError("no_file", "Record your voice or pick a file first.");
  const form = new FormData();
  form.append("file", state.voice, fileNameFor(state.voice, "voice"));
  form.append("mood", $("voice-mood-select").value);
  await runGeneration(async () => {
    try {
      return await api("/v1/style-transfer", { form });
    } catch (err) {
      throw await explainUploadError(err, state.voice);
    }
  });
}

function showMeow(meow) {
  const box = $("meow-result");
  const minted = meow.tokens?.length ? meow.tokens[0] : null;
  const mintArea = el("div", { id: "mint-area", class: "row" });
  if (minted) {
    mintArea.append(el("p", { id: "mint-result" }, `Minted as token #${minted.token_id} (owner ${short(minted.owner, 4)}).`));
  } else {
    const server = el("button", { type: "button", id: "mint-server-btn", class: "primary" }, "Mint (the server pays)");
    const voucher = el("button", { type: "button", id: "mint-voucher-btn" }, "Mint with a voucher (my wallet pays)");
    action(server, () => mintServer(meow, mintArea));
    action(voucher, () => mintVoucher(meow, mintArea));
    mintArea.append(server, voucher);
  }
  box.replaceChildren(
    el("h3", {}, meow.method === "style_transfer" ? "Your catified voice" : `A ${meow.mood ?? ""} meow`),
    el(
      "div",
      { class: "media" },
      meow.image_cid
        ? el("img", { id: "meow-spectrogram", src: ipfsUrl(meow.image_cid), alt: "log-mel spectrogram of the meow" })
        : "",
      el("audio", { id: "meow-audio", controls: true, preload: "auto", src: ipfsUrl(meow.audio_cid) }),
    ),
    facts([
      ["Meow id", hexCell(meow.id ?? "", 8), "meow_id"],
      ["Mood", meow.mood],
      ["Seed", meow.seed],
      ["Model id", hexCell(meow.model_id ?? "", 10)],
      ["Sound id", hexCell(meow.sound_id ?? "", 10)],
      ["Registered tx", meow.tx_hash ? hexCell(meow.tx_hash, 10) : ""],
    ]),
    mintArea,
  );
  box.hidden = false;
  box.dataset.meowId = meow.id ?? "";
}

async function mintServer(meow, area) {
  requireSignedIn("minting");
  const id = meow.id;
  const accepted = await api(`/v1/meows/${id}/mint`, { json: { mode: "server" } });
  area.replaceChildren(el("p", { id: "mint-progress" }, "Minting…"));
  const { data } = await followJob(accepted.job_id, (stage) => (area.firstChild.textContent = `Minting: ${stage}`), [
    "minted",
  ]);
  mintedMessage(area, data.token_id, data.tx_hash);
}

async function mintVoucher(meow, area) {
  requireSignedIn("minting");
  const info = await requireChain("redeeming a voucher");
  const id = meow.id;
  const issued = await api(`/v1/meows/${id}/mint`, { json: { mode: "voucher" } });
  const v = issued.voucher;
  const contract = issued.contract ?? info.meow_nft;
  const { hash, receipt } = await sendContractTx(
    state.address,
    info,
    {
      abi: meowNftAbi,
      contract,
      functionName: "redeem",
      args: [
        {
          recipient: v.recipient,
          tokenURI: v.tokenURI,
          sourceSoundId: v.sourceSoundId,
          voucherId: BigInt(v.voucherId),
          deadline: BigInt(v.deadline),
        },
        issued.signature,
      ],
    },
    "redeeming the voucher",
  );
  let tokenId = null;
  for (const log of receipt.logs) {
    try {
      const ev = decodeEventLog({ abi: meowNftAbi, data: log.data, topics: log.topics });
      if (ev.eventName === "MeowMinted") tokenId = ev.args.tokenId;
    } catch {
      // another contract's or event's log
    }
  }
  mintedMessage(area, tokenId, hash);
}

function mintedMessage(area, tokenId, txHash) {
  area.replaceChildren(
    el("p", { id: "mint-result", dataset: { tokenId: String(tokenId ?? "") } }, `Minted as token #${tokenId} `, hexCell(txHash ?? "", 8)),
  );
  notify(`Minted: MEOW token #${tokenId} is yours.`, "ok");
  // a redeemed voucher reaches the API once the indexer has read its block
  waitForToken(tokenId).then(loadMine);
}

/** Until GET /v1/nfts/{id} knows the token (at most a minute), polling once a second. */
async function waitForToken(tokenId) {
  if (tokenId === null || tokenId === undefined) return;
  for (let i = 0; i < 60; i += 1) {
    try {
      await api(`/v1/nfts/${tokenId}`);
      return;
    } catch (err) {
      if (err.status !== 404) return;
    }
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}
