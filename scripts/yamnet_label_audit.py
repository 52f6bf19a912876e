#!/usr/bin/env python
"""Ask YAMNet, an independent AudioSet model, which rows of a manifest may carry the wrong label.

A row is flagged when YAMNet hears another kind of sound strongly (``--against``: its best class
of that kind scores at least ``--threshold`` in some window) and its own kind weakly (below
``--own-below``). A flag is a reason to listen, not a verdict: YAMNet confuses some cat calls with
dogs too. So the same test is run on a reference manifest whose labels are trusted more
(``--reference``; its rows marked ``cross_dataset_overlap = yes``, copies of other sets, are left
out), and both shares are printed: a flagged share well above the reference's is what points at
label noise.

Example (the catsdogs cats that may hold dogs, against naya's cats)::

    .venv/bin/python scripts/yamnet_label_audit.py --manifest ../shared/data/catsdogs/manifest.csv \
        --label cat --against dog --reference ../shared/data/naya/manifest.csv \
        --reference-label '*' --reference-limit 300

Exit code 0 when the audit ran (flags or not), 2 for bad arguments or a missing YAMNet.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ml.audio import load_audio
from ml.data import read_manifest_rows
from ml.embeddings import SOURCE_CLASS_INDICES, Yamnet, YamnetUnavailableError

STRONG_WINDOW = 0.3
"""A window 'holds' the other kind when that kind's best class scores at least this."""


@dataclass(frozen=True)
class RowEvidence:
    """What YAMNet heard in one row: the other kind and the row's own, at their strongest."""

    path: str
    against: float
    own: float
    against_windows: float
    """Share of the clip's windows in which the other kind scores at least STRONG_WINDOW."""


def is_flagged(row: RowEvidence, threshold: float, own_below: float) -> bool:
    """Strong evidence of the other kind and weak evidence of the row's own."""
    return row.against >= threshold and row.own < own_below


def flagged_share(rows: list[RowEvidence], threshold: float, own_below: float) -> float:
    return sum(is_flagged(r, threshold, own_below) for r in rows) / len(rows) if rows else 0.0


def _rows(
    manifest: Path, label: str, limit: int, seed: int, skip_overlap: bool = False
) -> list[tuple[str, Path]]:
    """Rows labelled ``label`` (``*``: every row); ``skip_overlap`` drops copies of other sets."""
    rows = [r for r in read_manifest_rows(manifest) if r["label"] == label or label == "*"]
    if skip_overlap:
        rows = [r for r in rows if r.get("cross_dataset_overlap", "no") != "yes"]
    if not rows:
        raise ValueError(f"{manifest} has no rows labelled {label!r} (* takes every row)")
    if limit and len(rows) > limit:
        rows = random.Random(seed).sample(rows, limit)
    return [(r["path"], manifest.parent / r["path"]) for r in rows]


def evidence(yamnet: Yamnet, path: str, file: Path, against: str, own: str) -> RowEvidence:
    scores = yamnet.scores(load_audio(file))
    strongest = scores.source_scores()
    other = list(SOURCE_CLASS_INDICES[against])
    return RowEvidence(
        path=path,
        against=strongest[against],
        own=strongest[own],
        against_windows=float((scores.windows[:, other].max(axis=1) >= STRONG_WINDOW).mean()),
    )


def main(argv: list[str] | None = None) -> int:
    kinds = ", ".join(SOURCE_CLASS_INDICES)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--manifest", type=Path, required=True, help="manifest.csv to audit")
    parser.add_argument("--label", required=True, help="audit the rows with this label")
    parser.add_argument("--own", help=f"YAMNet kind of that label ({kinds}; default: --label)")
    parser.add_argument("--against", required=True, help=f"the kind it may really be ({kinds})")
    parser.add_argument("--threshold", type=float, default=0.8, help="strong other-kind score")
    parser.add_argument("--own-below", type=float, default=0.35, help="weak own-kind score")
    parser.add_argument("--reference", type=Path, help="a manifest with trusted labels")
    parser.add_argument("--reference-label", help="its rows to use (default: --label; *: all)")
    parser.add_argument("--reference-limit", type=int, default=300, help="rows drawn (0: all)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the reference draw")
    parser.add_argument("--json", type=Path, help="also write every row's evidence here")
    args = parser.parse_args(argv)
    own = args.own or args.label
    for kind in (own, args.against):
        if kind not in SOURCE_CLASS_INDICES:
            parser.error(f"unknown kind {kind!r}; known: {kinds}")
    ref_label = args.reference_label or args.label
    try:  # bad manifests are bad input: refused before YAMNet is loaded
        audited = _rows(args.manifest, args.label, 0, args.seed)
        reference = (
            _rows(args.reference, ref_label, args.reference_limit, args.seed, skip_overlap=True)
            if args.reference
            else []
        )
        yamnet = Yamnet()
    except (ValueError, OSError, YamnetUnavailableError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    def audit(manifest: Path, rows: list[tuple[str, Path]]) -> list[RowEvidence]:
        out = []
        for n, (path, file) in enumerate(rows, 1):
            out.append(evidence(yamnet, path, file, args.against, own))
            if n % 25 == 0 or n == len(rows):
                print(f"{manifest.parent.name}: {n}/{len(rows)} rows heard", file=sys.stderr)
        return out

    rows = audit(args.manifest, audited)
    flagged = sorted(
        (r for r in rows if is_flagged(r, args.threshold, args.own_below)),
        key=lambda r: -r.against,
    )
    print(f"{args.manifest}: {len(flagged)} of {len(rows)} '{args.label}' rows flagged")
    print(f"({args.against} >= {args.threshold}, {own} < {args.own_below}):")
    for r in flagged:
        print(
            f"  {r.path:32s} {args.against} {r.against:.2f}  {own} {r.own:.2f}  "
            f"windows with {args.against} {r.against_windows:.2f}"
        )
    share = flagged_share(rows, args.threshold, args.own_below)
    report = {"flagged_share": share, "rows": [asdict(r) for r in rows]}
    if args.reference:
        ref = audit(args.reference, reference)
        ref_share = flagged_share(ref, args.threshold, args.own_below)
        report["reference_flagged_share"] = ref_share
        print(
            f"flagged share {share:.3f}; reference ({args.reference}, {len(ref)} rows) {ref_share:.3f}"
        )
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
