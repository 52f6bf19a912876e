"""Pulling the open dataset: the API's JSONL export, every sound's bytes from IPFS, a manifest.

Every file is checked twice before it is kept: the IPFS client verifies the bytes against the CID
(``IpfsIntegrityError`` otherwise), and their sha256 must equal the sound's digest (its id, which is
what is on-chain). A file already in ``audio/`` with the right sha256 is not fetched again, so an
interrupted pull resumes where it stopped.

``manifest.csv`` is in the ``ml`` format (``path,label,group,duration_s,sample_rate,source,
license`` then extra columns), readable by ``ml.data.clips_from_csv`` and ``miao train
--extra-manifest``. Each sound gives one row per task:

- ``source``: the contributor's declared kind (cat, dog, infant → infant_cry, other), a human
  label (``label_origin = contributor``); the source model's on-chain verdict is beside it
  (``model_label``), so disagreements can be filtered;
- every other task the sound was labelled for on-chain: the newest model label
  (``label_origin = model``), with its model id and ``setLabel`` transaction.

Task label sets are disjoint, so ``ml.data.build_task_dataset(task, extra=…)`` picks each task's
rows by label alone. ``group`` is the contributor (one person's recordings are likely one animal),
so group splits never put one contributor on both sides.
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from backend.ipfs.cid import Cid, CidError
from backend.ipfs.client import IpfsClient
from backend.ipfs.errors import IpfsError, IpfsIntegrityError, IpfsNotFound, IpfsUnavailable

DATASET_NAME = "miao"
AUDIO_DIR = "audio"
MANIFEST = "manifest.csv"
MANIFEST_COLUMNS = (
    "path",
    "label",
    "group",
    "duration_s",
    "sample_rate",
    "source",
    "license",
    "dataset",
    "task",
    "label_origin",
    "kind",
    "synthetic",
    "cid",
    "digest",
    "contributor",
    "contributor_label",
    "model_id",
    "model_label",
    "confidence_bps",
    "tx_hash",
    "registered_tx_hash",
)
KIND_SOURCE_LABELS = {"cat": "cat", "dog": "dog", "infant": "infant_cry", "other": "other"}
"""A declared kind as a ``source`` task label."""

_REQUIRED_KEYS = ("cid", "digest", "kind", "contributor", "license", "labels")


class ExportError(RuntimeError):
    """The API did not give a usable export (down, an error status, or malformed lines)."""


@dataclass(frozen=True)
class PullFailure:
    """A sound that could not be pulled, and why (integrity failures say so)."""

    digest: str
    cid: str
    reason: str


@dataclass(frozen=True)
class PulledSound:
    record: dict[str, Any]
    path: str  # relative to the output folder
    format: str
    duration_s: float
    sample_rate: int
    fetched: bool  # False: already there with the right hash


@dataclass
class PullResult:
    out_dir: Path
    sounds: list[PulledSound] = field(default_factory=list)
    failures: list[PullFailure] = field(default_factory=list)
    manifest_rows: int = 0

    @property
    def fetched(self) -> int:
        return sum(s.fetched for s in self.sounds)

    @property
    def present(self) -> int:
        return sum(not s.fetched for s in self.sounds)


def read_export(http: httpx.Client, params: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """The records of ``GET /v1/dataset/export`` (``http`` has the API as its base URL)."""
    try:
        reply = http.get("/v1/dataset/export", params=params or {})
    except httpx.TransportError as exc:
        raise ExportError(f"no answer from the API at {http.base_url}: {exc}") from None
    if reply.status_code != 200:
        try:
            error = reply.json()["error"]
            detail = f"{error['code']}: {error['message']}"
        except (ValueError, KeyError, TypeError):
            detail = reply.text[:300]
        raise ExportError(f"the export failed ({reply.status_code}): {detail}")
    records = []
    for number, line in enumerate(reply.text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            raise ExportError(f"export line {number} is not JSON: {line[:120]!r}") from None
        missing = [key for key in _REQUIRED_KEYS if key not in record]
        if missing:
            raise ExportError(f"export line {number} lacks {', '.join(missing)}")
        records.append(record)
    return records


def sha256_hex(data: bytes) -> str:
    return "0x" + hashlib.sha256(data).hexdigest()


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return "0x" + digest.hexdigest()


def _existing(audio_dir: Path, digest: str) -> Path | None:
    """The file already pulled for ``digest`` when its bytes still hash to it; else removed."""
    for path in sorted(audio_dir.glob(f"{digest[2:]}.*")):
        if path.name.endswith(".part"):
            continue
        if _file_sha256(path) == digest:
            return path
        path.unlink()  # a damaged or partial copy: fetched again
    return None


def _write_atomically(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


async def pull_sound(
    ipfs: IpfsClient, record: dict[str, Any], out_dir: Path
) -> PulledSound | PullFailure:
    """Fetch (or find) one sound's file and check it; ``IpfsUnavailable`` propagates."""
    from ml.audio import AudioError, probe, sniff_format

    digest, cid_text = str(record["digest"]).lower(), str(record["cid"])
    audio_dir = out_dir / AUDIO_DIR
    path = await asyncio.to_thread(_existing, audio_dir, digest)
    fetched = path is None
    if path is None:
        try:
            cid = Cid.parse(cid_text)
        except CidError as exc:
            return PullFailure(digest, cid_text, f"integrity: the export's CID is invalid: {exc}")
        try:
            data = await ipfs.cat(cid)
        except IpfsIntegrityError as exc:
            return PullFailure(digest, cid_text, f"integrity: {exc}")
        except IpfsUnavailable:
            raise
        except IpfsNotFound as exc:
            return PullFailure(digest, cid_text, f"not on the IPFS node: {exc}")
        except IpfsError as exc:
            return PullFailure(digest, cid_text, f"IPFS error: {exc}")
        if sha256_hex(data) != digest:
            return PullFailure(
                digest,
                cid_text,
                f"integrity: the bytes of the CID hash to {sha256_hex(data)}, not to the digest",
            )
        try:
            fmt = sniff_format(data)
        except AudioError as exc:
            return PullFailure(digest, cid_text, f"not audio: {exc}")
        path = audio_dir / f"{digest[2:]}.{fmt}"
        await asyncio.to_thread(_write_atomically, path, data)
    try:
        info = await asyncio.to_thread(probe, path)
    except AudioError as exc:
        return PullFailure(digest, cid_text, f"not decodable audio: {exc}")
    return PulledSound(
        record=record,
        path=f"{AUDIO_DIR}/{path.name}",
        format=info.format,
        duration_s=info.duration_s,
        sample_rate=info.sample_rate,
        fetched=fetched,
    )


def manifest_rows(sound: PulledSound) -> Iterator[dict[str, Any]]:
    """The manifest rows of one sound (see the module docstring)."""
    record = sound.record
    common = {
        "path": sound.path,
        "group": f"contributor:{str(record['contributor']).lower()}",
        "duration_s": f"{sound.duration_s:.3f}",
        "sample_rate": sound.sample_rate,
        "source": f"ipfs://{record['cid']}",
        "license": record["license"],
        "dataset": DATASET_NAME,
        "kind": record["kind"],
        "synthetic": "yes" if record.get("synthetic") else "no",
        "cid": record["cid"],
        "digest": record["digest"],
        "contributor": record["contributor"],
        "contributor_label": record.get("contributor_label", ""),
        "registered_tx_hash": record.get("registered_tx_hash") or "",
    }
    newest: dict[str, dict[str, Any]] = {}
    for label in record["labels"]:  # oldest first: a newer model's label replaces an older one
        newest[str(label["task"])] = label

    def model_columns(label: dict[str, Any] | None) -> dict[str, Any]:
        if label is None:
            return {"model_id": "", "model_label": "", "confidence_bps": "", "tx_hash": ""}
        return {
            "model_id": label["model_id"],
            "model_label": label["label"],
            "confidence_bps": label["confidence_bps"],
            "tx_hash": label["tx_hash"],
        }

    declared = KIND_SOURCE_LABELS.get(str(record["kind"]))
    if declared is not None:
        yield {
            **common,
            "label": declared,
            "task": "source",
            "label_origin": "contributor",
            **model_columns(newest.get("source")),
        }
    for task, label in newest.items():
        if task == "source":
            continue
        yield {
            **common,
            "label": label["label"],
            "task": task,
            "label_origin": "model",
            **model_columns(label),
        }


def write_manifest(sounds: Iterable[PulledSound], path: Path) -> int:
    """Write the manifest (temporary file, then renamed); the number of rows."""
    rows = [row for sound in sounds for row in manifest_rows(sound)]
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=MANIFEST_COLUMNS)
            writer.writeheader()
            writer.writerows(rows)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return len(rows)


async def pull_dataset(
    records: list[dict[str, Any]],
    ipfs: IpfsClient,
    out_dir: Path,
    *,
    concurrency: int = 4,
    on_done: Callable[[PulledSound | PullFailure], None] | None = None,
) -> PullResult:
    """Pull every record's file into ``out_dir/audio`` and write ``out_dir/manifest.csv``.

    The manifest lists the sounds that passed every check, in export order; the failures are in
    the result. An IPFS node that stops answering aborts the pull (``IpfsUnavailable``): what
    was fetched stays and the next pull resumes.
    """
    (out_dir / AUDIO_DIR).mkdir(parents=True, exist_ok=True)
    gate = asyncio.Semaphore(max(1, concurrency))

    async def one(record: dict[str, Any]) -> PulledSound | PullFailure:
        async with gate:
            outcome = await pull_sound(ipfs, record, out_dir)
        if on_done is not None:
            on_done(outcome)
        return outcome

    outcomes = await asyncio.gather(*(one(r) for r in records))
    result = PullResult(out_dir)
    for outcome in outcomes:
        if isinstance(outcome, PullFailure):
            result.failures.append(outcome)
        else:
            result.sounds.append(outcome)
    result.manifest_rows = write_manifest(result.sounds, out_dir / MANIFEST)
    return result
