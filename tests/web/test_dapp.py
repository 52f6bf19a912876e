"""The DApp page end to end in a real browser (Debian's chromium, headless, via playwright-core).

The whole stack is real and runs as separate processes (``miao.pipeline_stack``): anvil, the IPFS
node, Redis, the API serving the built page, the indexer and a Celery worker with the shipped
models. ``dapp_e2e.mjs`` injects an EIP-1193 wallet that forwards to anvil and signs with an anvil
test key; it connects (the wallet starts on another chain and the page switches it), is refused
once (a rejected signature), signs in with SIWE, tries an oversize file, uploads a real recording
(its registration signature rejected once, then relayed) and another registered from the wallet,
follows both jobs to ``labelled``, sees the backend "go away" (requests refused in the browser),
generates a meow, mints it, finds it in "my NFTs", records a voice from chromium's fake microphone
(which plays a real voice), catifies it and redeems a voucher for it, browses the dataset, loses its
session cookie (and is asked to sign in again), and browses from a second tab without a wallet. What the page
showed is checked here against the API and the chain. A screenshot of each step is saved to
``$MIAO_E2E_SCREENSHOTS`` (default: the test's temporary folder); with ``$MIAO_E2E_README_SHOTS``
set, the main screens are also saved there cropped to their section (docs/screenshots).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import librosa
import pytest
import soundfile
from eth_account import Account
from web3 import Web3

from backend.chain.artifacts import load_artifact
from backend.settings import REPO_ROOT
from miao.pipeline_stack import PipelineStack, start_chain_and_storage
from miao.samples import meow_wav_bytes, voice_wav_bytes
from miao.stack import free_port
from ml.data import default_shared_dir

pytestmark = [pytest.mark.chain, pytest.mark.ipfs, pytest.mark.slow]

CHROMIUM = Path(os.environ.get("MIAO_CHROMIUM", "/usr/bin/chromium"))
SCRIPT = Path(__file__).with_name("dapp_e2e.mjs")
WALLET_KEY = "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6"  # anvil #3
UPLOAD_LIMIT_MB = 1
# A real cat and a real voice from ../shared when it is there (CC-BY-4.0 CatMeows; CC BY-SA 4.0
# Free Spoken Digit Dataset); else the project's own synthesised meow and voice.
SHARED_MEOWS = (
    "catmeows/meows/B_BAC01_MC_MN_SIM01_101.flac",
    "catmeows/meows/B_BAC01_MC_MN_SIM01_102.flac",
)
SHARED_VOICE = "speech-fsdd/audio/0_george_1.flac"


def _missing_browser_tools() -> str | None:
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is not installed (make setup installs Debian's chromium)"
    if shutil.which("node") is None:
        return "node is not installed"
    if not (REPO_ROOT / "node_modules" / "playwright-core").is_dir():
        return "node_modules/playwright-core is missing (make setup runs npm install)"
    return None


@pytest.fixture(scope="module")
def page_built() -> Path:
    """Build the page from its sources now, so the test never runs a stale build."""
    reason = _missing_browser_tools()
    if reason:
        pytest.skip(reason)
    done = subprocess.run(
        ["npm", "run", "--silent", "build:web"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, f"npm run build:web failed:\n{done.stdout}\n{done.stderr}"
    index = REPO_ROOT / "web" / "dist" / "index.html"
    assert index.is_file()
    return index.parent


@pytest.fixture(scope="module")
def stack(page_built: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[PipelineStack]:
    """Chain, IPFS, Redis, API (serving the page), indexer, worker; SIWE domain = the page's host."""
    var = tmp_path_factory.mktemp("web-stack")
    base, started = start_chain_and_storage(var)
    port = free_port()
    settings = base.model_copy(
        update={
            "siwe_domain": f"127.0.0.1:{port}",
            "session_secret": secrets.token_hex(32),
            "max_upload_mb": UPLOAD_LIMIT_MB,
        }
    )
    running = PipelineStack(settings, weights_dir=None, logs=var / "logs", api_port=port)
    try:
        yield running.start()
    finally:
        running.stop()
        for proc in reversed(started):
            proc.stop()


@pytest.fixture(scope="module")
def recordings(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """(a cat recording, another one, a voice recording): uploaded relayed, uploaded from the
    wallet, catified."""
    data = default_shared_dir() / "data"
    shared = (data / SHARED_MEOWS[0], data / SHARED_MEOWS[1], data / SHARED_VOICE)
    if all(path.is_file() for path in shared):
        return shared
    folder = tmp_path_factory.mktemp("recordings")
    (folder / "meow1.wav").write_bytes(meow_wav_bytes(seed=901))
    (folder / "meow2.wav").write_bytes(meow_wav_bytes(seed=902))
    (folder / "voice.wav").write_bytes(voice_wav_bytes(seed=903))
    return folder / "meow1.wav", folder / "meow2.wav", folder / "voice.wav"


@pytest.fixture(scope="module")
def microphone_wav(
    recordings: tuple[Path, Path, Path], tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """The voice as a 48 kHz 16-bit WAV, which chromium's fake microphone plays (and loops)."""
    wave, rate = librosa.load(recordings[2], sr=48_000, mono=True)
    path = tmp_path_factory.mktemp("microphone") / "voice.wav"
    soundfile.write(path, wave, rate, subtype="PCM_16")
    return path


@pytest.fixture(scope="module")
def run(
    stack: PipelineStack,
    recordings: tuple[Path, Path, Path],
    microphone_wav: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, Any]:
    """One run of the browser script; what the page showed, as the script reports it."""
    shots = Path(os.environ.get("MIAO_E2E_SCREENSHOTS") or tmp_path_factory.mktemp("screenshots"))
    argv = [
        "node",
        str(SCRIPT),
        "--base-url", stack.base_url,
        "--rpc-url", stack.settings.chain_rpc_url,
        "--key", WALLET_KEY,
        "--audio", str(recordings[0]),
        "--audio2", str(recordings[1]),
        "--mic-wav", str(microphone_wav),
        "--shots", str(shots),
        "--oversize-bytes", str(UPLOAD_LIMIT_MB * 1024 * 1024 + 512 * 1024),
        "--chromium", str(CHROMIUM),
        "--timeout-s", "90",
    ]  # fmt: skip
    readme_shots = os.environ.get("MIAO_E2E_README_SHOTS")  # e.g. docs/screenshots
    if readme_shots:
        argv += ["--section-shots", str(Path(readme_shots).resolve())]
    done = subprocess.run(
        argv, cwd=REPO_ROOT, capture_output=True, text=True, timeout=420, check=False
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    assert lines, (
        f"no result from the browser script (rc {done.returncode}):\n{done.stderr[-4000:]}"
    )
    result = json.loads(lines[-1])
    assert done.returncode == 0 and "failed" not in result, (
        f"the browser run failed: {result.get('failed')}\nnotice: {result.get('notice')}\n"
        f"screenshots: {shots}\n{done.stderr[-3000:]}\n"
        + "\n".join(f"{p.name}:\n{p.read_text()[-2000:]}" for p in stack.logs.glob("*.log"))
    )
    result["shots_dir"] = str(shots)
    if readme_shots:
        _shrink_pngs(Path(readme_shots))
    return result


def _shrink_pngs(folder: Path) -> None:
    """Palette PNGs (256 colours): the README's screenshots at a third of the size."""
    from PIL import Image

    for path in folder.glob("*.png"):
        with Image.open(path) as image:
            small = image.convert("RGB").quantize(256, method=Image.Quantize.MEDIANCUT)
        small.save(path, optimize=True)


@pytest.fixture(scope="module")
def http(stack: PipelineStack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.base_url, timeout=30) as client:
        yield client


@pytest.fixture(scope="module")
def w3(stack: PipelineStack) -> Web3:
    return Web3(Web3.HTTPProvider(stack.settings.chain_rpc_url))


def _receipt_ok(w3: Web3, tx_hash: str) -> bool:
    return w3.eth.get_transaction_receipt(tx_hash)["status"] == 1


def test_the_page_is_served_with_its_assets(stack: PipelineStack, http: httpx.Client) -> None:
    page = http.get("/")
    assert page.status_code == 200 and "<title>MIAO AI</title>" in page.text
    script = page.text.split('src="', 1)[1].split('"', 1)[0]
    assert script.startswith("/assets/") and http.get(script).status_code == 200
    assert http.get("/v1/health").json()["status"] == "ok"  # the API still answers under /v1


def test_wallet_chain_switch_and_sign_in(run: dict[str, Any]) -> None:
    address = Account.from_key(WALLET_KEY).address
    assert run["address"] == address
    assert "chain 1" in run["wrong_chain_notice"] and "31337" in run["wrong_chain_notice"]
    assert run["switch_offered"] and "Switch" in run["signin_on_wrong_chain"]
    assert run["chain_after_switch"] == 31337 and run["switch_hidden"]
    assert run["signin_status"] == "signed in"


def test_errors_get_clear_messages(run: dict[str, Any]) -> None:
    assert "rejected" in run["rejected_notice"] and "nothing was signed" in run["rejected_notice"]
    assert not run["signed_in_after_reject"]
    assert "upload limit" in run["oversize_notice"]
    assert "not answering" in run["backend_down_notice"] and run["page_still_shown"]
    assert not [e for e in run["console_errors"] if e.startswith("pageerror")]
    assert "not signed in" in run["session_gone_notice"] and run["signin_offered_again"]
    assert "No browser wallet found" in run["no_wallet_notice"]
    assert run["no_wallet_dataset_rows"] > 0  # browsing works without a wallet


def _check_upload(shown: dict[str, Any], sound: dict[str, Any], w3: Web3) -> None:
    """What the page showed for an upload is what the API and the chain hold."""
    main = sound["labels"][-1]
    assert shown["label"] == main["label"] and shown["tx_hash"] == main["tx_hash"]
    assert shown["model_id"] == main["model_id"]
    assert shown["confidence"] == f"{main['confidence_bps'] / 100:.1f} %"
    assert [row[1] for row in shown["labels"]] == [label["label"] for label in sound["labels"]]
    assert [row[4] for row in shown["labels"]] == [label["tx_hash"] for label in sound["labels"]]
    assert _receipt_ok(w3, shown["tx_hash"]) and _receipt_ok(w3, sound["registered_tx_hash"])


def test_upload_relayed_after_a_rejected_signature_is_labelled_on_chain(
    run: dict[str, Any], stack: PipelineStack, http: httpx.Client, w3: Web3
) -> None:
    assert "rejected the registration signature" in run["rejected_registration_notice"]
    assert run["stages_done"] == ["received", "pinned", "registered", "labelling", "labelled"]
    shown = run["upload"]
    sound = http.get(f"/v1/sounds/{shown['sound_id']}").json()
    assert sound["contributor"] == run["address"] and sound["kind"] == "cat"
    assert sound["contributor_label"] == "browser e2e" and not sound["synthetic"]
    _check_upload(shown, sound, w3)
    # relayed: the relayer sent registerSoundFor, the wallet only signed
    relayer = Account.from_key(stack.settings.relayer_key).address
    assert w3.eth.get_transaction(sound["registered_tx_hash"])["from"] == relayer
    assert sound["id"] in run["dataset_ids"]
    assert run["played"]["error"] is None and run["played"]["duration"] > 0.2


def test_upload_registered_from_the_wallet_is_labelled_on_chain(
    run: dict[str, Any], http: httpx.Client, w3: Web3
) -> None:
    shown = run["direct_upload"]
    sound = http.get(f"/v1/sounds/{shown['sound_id']}").json()
    assert sound["contributor_label"] == "browser e2e, direct"
    _check_upload(shown, sound, w3)
    # direct: the wallet sent registerSound itself
    assert w3.eth.get_transaction(sound["registered_tx_hash"])["from"] == run["address"]


def _owner_on_chain(w3: Web3, http: httpx.Client, token_id: int) -> str:
    chain = http.get("/v1/chain").json()
    nft = w3.eth.contract(address=chain["meow_nft"], abi=load_artifact("MeowNFT").abi)
    return nft.functions.ownerOf(token_id).call()


def test_meow_generated_minted_and_in_my_nfts(
    run: dict[str, Any], http: httpx.Client, w3: Web3
) -> None:
    assert run["has_meows"], "the page found no moods at GET /v1/meows/moods"
    meow = run["meow"]
    api_meow = http.get(f"/v1/meows/{meow['meow_id']}").json()
    assert api_meow["mood"] == "happy" and api_meow["seed"] == 7
    assert api_meow["creator"] == run["address"]
    assert 0.8 <= meow["audio_duration"] <= 1.2 and meow["audio_error"] is None
    assert meow["image_width"] > 0  # the spectrogram PNG loaded from /v1/ipfs
    token = http.get(f"/v1/nfts/{meow['token_id']}").json()
    assert token["owner"] == run["address"] and token["meow_id"] == meow["meow_id"]
    assert token["voucher_id"] == "0"  # a server mint
    assert _owner_on_chain(w3, http, meow["token_id"]) == run["address"]
    assert meow["token_id"] in run["my_nfts"]


def test_voice_recorded_in_the_page_catified_and_redeemed_from_the_wallet(
    run: dict[str, Any], http: httpx.Client, w3: Web3
) -> None:
    # MediaRecorder took the (fake) microphone's voice; the server decoded the webm and turned it
    assert run["voice_recorded"].startswith("recorded ")
    catified = run["catified"]
    api_meow = http.get(f"/v1/meows/{catified['meow_id']}").json()
    assert api_meow["method"] == "style_transfer" and api_meow["creator"] == run["address"]
    assert catified["audio_error"] is None and catified["audio_duration"] > 0.5
    assert catified["image_width"] > 0
    token = http.get(f"/v1/nfts/{catified['token_id']}").json()
    assert token["voucher_id"] != "0"  # redeemed by the wallet's own transaction
    assert _owner_on_chain(w3, http, catified["token_id"]) == run["address"]
    assert "eth_sendTransaction" in run["wallet_calls"]
    assert set(run["my_nfts"]) >= {run["meow"]["token_id"], catified["token_id"]}


def test_a_screenshot_of_each_step(run: dict[str, Any]) -> None:
    names = [Path(p).name for p in run["shots"]]
    for step in ("home", "wrong-chain", "signed-in", "labelled", "meow", "minted", "my-nfts"):
        assert any(name.endswith(f"-{step}.png") for name in names), (step, names)
    for path in run["shots"]:
        assert Path(path).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
