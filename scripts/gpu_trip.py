"""Get issue 16's training trip onto a lent GPU machine in as few calls as the device tool allows.

Each call carries the working tree plus the paths it names, 64 MiB in all. The two base encoders (int8
parts from ``weights_transport.py``) and the training data are about 129 MB, and the shipped reader's
45 MB of weights travel with the tree on every call unless they are taken out of git's index for the
trip. So ``prepare`` packs everything and deals it into ``.gpu/call1``, ``.gpu/call2``, ... each filling
what one call has room for, and ``model-out`` / ``model-back`` take the reader's weights out of the index
and put them back (the file itself never moves; ``status`` says where things stand):

    .venv/bin/python scripts/squad2_train_data.py --shared ../shared/qa-train --out runs/data
    .venv/bin/python scripts/gpu_trip.py prepare --mpnet runs/base/all-mpnet-base-v2 --data ../shared/qa-train \
        --squad2 runs/data
    .venv/bin/python scripts/gpu_trip.py model-out
    # the calls it prints, one after another while the machine is warm, the last one training
    .venv/bin/python scripts/gpu_trip.py model-back

On the machine every call runs ``scripts/gpu_trip.sh .gpu/callN``, which gathers its parts; the last
(``--train``) joins them, unpacks the encoders and the data, and runs ``distill_pipeline.py``'s trust
trip on the ``squad2`` mix. Training only: nothing of it is committed.
"""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
import tarfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "scripts"))

LIMIT = 64 * 1024 * 1024  # what one call carries, tree included
MARGIN = 512 * 1024  # room for files that appear in the tree between prepare and the calls
READER_WEIGHTS = "models/reader/model.safetensors"
from distill_pipeline import MIXES  # noqa: E402

# what the trip trains on and is measured on (gpu_trip.sh: --mix squad2, --heldout, --more-heldout)
MIX = "squad2"
DATA_FILES = MIXES[MIX][0] + ("squad2_dev_more.json", "squad_dev.json", "README.md")


def tree_bytes(repo: Path = REPO, without: tuple[str, ...] = (READER_WEIGHTS,)) -> int:
    """Bytes of what travels on every call: tracked files and untracked ones git does not ignore."""
    names = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=repo,
                           capture_output=True, check=True).stdout.decode().split("\0")
    return sum((repo / n).stat().st_size for n in names if n and n not in without and (repo / n).is_file())


def deal(items: list[tuple[str, bytes]], room: int) -> list[list[tuple[str, bytes]]]:
    """Cut the items into parts, in order, so that each call's parts fill at most ``room`` bytes; an item's
    parts are named ``NAME.part00``, ``NAME.part01``, ... across the calls, which is the order they join in."""
    if room <= 0:
        raise SystemExit("the working tree alone fills a call: nothing else would travel")
    calls: list[list[tuple[str, bytes]]] = [[]]
    left = room
    for name, blob in items:
        at, n = 0, 0
        while at < len(blob):
            if left == 0:
                calls.append([])
                left = room
            take = min(left, len(blob) - at)
            calls[-1].append((f"{name}.part{n:02d}", blob[at : at + take]))
            at, n, left = at + take, n + 1, left - take
    return calls


def data_path(name: str, folders: tuple[Path, ...]) -> Path:
    """Where a data file is: the first of ``folders`` that has it (the shared data, then the prepared split)."""
    return next((f / name for f in folders if (f / name).exists()), folders[0] / name)


def data_tarball(folders: tuple[Path, ...]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:xz", preset=9) as tar:
        for name in DATA_FILES:
            tar.add(data_path(name, folders), arcname=f"qa-train/{name}")
    return buf.getvalue()


def prepare(mpnet: Path, minilm: Path, data: Path, out: Path, room: int, squad2: Path | None = None) -> list[list[str]]:
    """Pack the encoders and the data into ``out/callN``, at most ``room`` bytes a call; returns each
    call's file names."""
    import weights_transport as wt

    items = []
    for name, folder in (("mpnet", mpnet), ("minilm", minilm)):
        tmp = out / f"{name}.whole"
        wt.pack(folder, str(tmp), part_mb=1e6, fp16=False)  # one part: dealt below
        items.append((name, Path(str(tmp) + ".part00").read_bytes()))
        Path(str(tmp) + ".part00").unlink()
    items.append(("qa-train.tar.xz", data_tarball((data, squad2 or data))))
    calls = deal(items, room)
    listing = []
    for i, parts in enumerate(calls, 1):
        folder = out / f"call{i}"
        folder.mkdir(parents=True, exist_ok=True)
        for name, blob in parts:
            (folder / name).write_bytes(blob)
        listing.append([f"{folder.relative_to(REPO) if folder.is_relative_to(REPO) else folder}/{n}" for n, _ in parts])
    return listing


def _exclude_file(repo: Path) -> Path:
    return repo / ".git" / "info" / "exclude"


def ignore(*patterns: str, repo: Path = REPO) -> None:
    """Add lines to .git/info/exclude (this clone's own ignore list, never committed)."""
    ex = _exclude_file(repo)
    ex.parent.mkdir(parents=True, exist_ok=True)
    lines = ex.read_text().splitlines() if ex.exists() else []
    ex.write_text("\n".join(lines + [x for x in patterns if x not in lines]) + "\n")


def model_out(repo: Path = REPO) -> None:
    """Take the reader's weights out of git's index and ignore them for the trip."""
    ignore("/" + READER_WEIGHTS, repo=repo)
    subprocess.run(["git", "rm", "-q", "--cached", READER_WEIGHTS], cwd=repo, check=True)


def model_back(repo: Path = REPO) -> None:
    """Put the weights back in the index as HEAD has them and stop ignoring them (.gpu/ stays ignored)."""
    subprocess.run(["git", "reset", "-q", "HEAD", "--", READER_WEIGHTS], cwd=repo, check=True)
    ex = _exclude_file(repo)
    if ex.exists():
        keep = [x for x in ex.read_text().splitlines() if x != "/" + READER_WEIGHTS]
        ex.write_text("\n".join(keep) + "\n")


def status(repo: Path = REPO) -> dict:
    staged = subprocess.run(["git", "diff", "--cached", "--name-only"], cwd=repo, capture_output=True, text=True,
                            check=True).stdout.split()
    return {"reader_weights_out_of_index": READER_WEIGHTS in staged,
            "tree_bytes_without_reader_weights": tree_bytes(repo), "tree_bytes_with_them": tree_bytes(repo, without=()),
            "limit_bytes": LIMIT}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("prepare", help="pack the encoders and the data into .gpu/callN folders")
    p.add_argument("--mpnet", type=Path, required=True, help="all-mpnet-base-v2 folder (scripts/get-mpnet.sh)")
    p.add_argument("--minilm", type=Path, default=None, help="the students' base encoder (default: the packaged one)")
    p.add_argument("--data", type=Path, required=True, help="the qa-train folder")
    p.add_argument("--squad2", type=Path, default=REPO / "runs" / "data",
                   help="the SQuAD 2.0 train split that scripts/squad2_train_data.py writes")
    p.add_argument("--out", type=Path, default=REPO / ".gpu")
    sub.add_parser("model-out")
    sub.add_parser("model-back")
    sub.add_parser("status")
    args = ap.parse_args()
    if args.cmd == "prepare":
        folders = (args.data, args.squad2)
        missing = [str(data_path(f, folders)) for f in DATA_FILES if not data_path(f, folders).exists()]
        if missing or not (args.mpnet / "model.safetensors").exists():
            raise SystemExit(f"missing: {', '.join(missing or [str(args.mpnet / 'model.safetensors')])}")
        ignore("/.gpu/")  # the parts travel only where a call names them
        tree = tree_bytes()
        from qa.packaged import packaged_minilm_path

        calls = prepare(args.mpnet, args.minilm or Path(packaged_minilm_path()), args.data, args.out, LIMIT - tree - MARGIN,
                        args.squad2)
        print(json.dumps({"tree_bytes": tree, "calls": calls}, indent=1))
    elif args.cmd == "model-out":
        model_out()
    elif args.cmd == "model-back":
        model_back()
    print(json.dumps(status()))


if __name__ == "__main__":
    main()
