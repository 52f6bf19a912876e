// Browsing: the open dataset with its filters, any sound played from IPFS, and "my sounds, meows
// and NFTs" of the connected address.
import { AppError, api, cidOf, ipfsUrl } from "./api.js";
import { showError, state } from "./app.js";
import { $, el, hexCell, table } from "./dom.js";

export function playButton(cid) {
  return el(
    "button",
    {
      type: "button",
      class: "play",
      "data-cid": cid,
      onclick: async (ev) => {
        const player = $("player");
        document.querySelectorAll("button.play.playing").forEach((b) => b.classList.remove("playing"));
        if (player.dataset.cid === cid && !player.paused) {
          player.pause();
          return;
        }
        player.src = ipfsUrl(cid);
        player.dataset.cid = cid;
        ev.currentTarget.classList.add("playing");
        try {
          await player.play();
        } catch (err) {
          if (err?.name !== "AbortError") showError(new AppError("playback", `Cannot play that sound: ${err.message}`));
        }
      },
    },
    "▶",
  );
}

export function soundsTable(items, emptyText) {
  if (!items.length) return el("p", { class: "hint empty" }, emptyText);
  return table(
    ["", "kind", "labels", "contributor", "length", "id"],
    items.map((s) => {
      const row = [
        playButton(s.cid),
        s.synthetic ? `${s.kind} (generated)` : s.kind,
        s.labels.length
          ? s.labels.map((l) => `${l.label} ${Math.round(l.confidence_bps / 100)}%`).join(", ")
          : s.synthetic
            ? "generated (not labelled)"
            : s.status,
        hexCell(s.contributor, 4),
        s.duration_s ? `${s.duration_s.toFixed(1)} s` : "",
        hexCell(s.id),
      ];
      row.attrs = { "data-sound-id": s.id };
      return row;
    }),
    { class: "sounds" },
  );
}

export async function loadDataset(offset = state.datasetOffset) {
  const params = new URLSearchParams({ offset: String(offset), limit: "20" });
  for (const [k, v] of Object.entries(state.datasetQuery)) if (v) params.set(k, v);
  try {
    const page = await api(`/v1/dataset?${params}`);
    state.datasetOffset = page.offset;
    state.datasetNext = page.next_offset;
    $("dataset-list").replaceChildren(soundsTable(page.items, "No sounds match these filters yet."));
    $("dataset-page").textContent = page.total
      ? `${page.offset + 1}–${page.offset + page.items.length} of ${page.total}`
      : "";
    $("dataset-prev").disabled = page.offset === 0;
    $("dataset-next").disabled = page.next_offset === null || page.next_offset === undefined;
  } catch (err) {
    showError(err);
  }
}

export async function loadMine() {
  if (!state.address) return;
  const me = encodeURIComponent(state.address);
  const meows = api(`/v1/meows?creator=${me}&limit=50`);
  const tasks = [
    api(`/v1/dataset?contributor=${me}&synthetic=false&limit=50`).then((page) =>
      $("my-sounds").replaceChildren(soundsTable(page.items, "You have not contributed a sound yet.")),
    ),
    meows.then((page) =>
      $("my-meows").replaceChildren(
        page.items.length
          ? table(
              ["", "meow", "made", "token"],
              page.items.map((m) => [
                playButton(m.audio_cid),
                m.method === "style_transfer" ? `voice → ${m.mood ?? "cat"}` : `${m.mood} (seed ${m.seed})`,
                new Date(m.created_at).toLocaleString(),
                m.tokens.length ? `#${m.tokens[0].token_id}` : m.registered ? "not minted" : "registering…",
              ]),
              { class: "meows" },
            )
          : el("p", { class: "hint empty" }, "You have not made a meow yet."),
      ),
    ),
    // tokens of my own meows need no second fetch; others (a voucher from someone else) do
    Promise.all([api(`/v1/nfts?owner=${me}&limit=50`), meows.catch(() => ({ items: [] }))]).then(
      ([page, mine]) => renderNfts(page.items, new Map(mine.items.map((m) => [m.id, m]))),
    ),
  ];
  const results = await Promise.allSettled(tasks);
  const failed = results.find((r) => r.status === "rejected" && r.reason?.status !== 404);
  if (failed) showError(failed.reason);
}

export async function renderNfts(items, known = new Map()) {
  const box = $("my-nfts");
  if (!items.length) {
    box.replaceChildren(el("p", { class: "hint empty" }, "You own no MEOW token yet."));
    return;
  }
  const cards = await Promise.all(
    items.map(async (nft) => {
      const meow =
        known.get(nft.meow_id) ?? (nft.meow_id ? await api(`/v1/meows/${nft.meow_id}`).catch(() => null) : null);
      return el(
        "div",
        { class: "nft", dataset: { tokenId: String(nft.token_id) } },
        meow?.image_cid ? el("img", { src: ipfsUrl(meow.image_cid), alt: `token ${nft.token_id}` }) : "",
        el("div", {}, el("strong", {}, `MEOW #${nft.token_id}`), " ", meow?.mood ?? ""),
        meow ? playButton(meow.audio_cid) : "",
        el("a", { href: ipfsUrl(cidOf(nft.token_uri)), target: "_blank", class: "hint" }, "metadata"),
        el("div", { class: "hint" }, nft.voucher_id && nft.voucher_id !== "0" ? "redeemed voucher" : "server mint"),
      );
    }),
  );
  box.replaceChildren(el("div", { class: "nfts" }, cards));
}
