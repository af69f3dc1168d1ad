"""Carry a transformers model folder to a lent GPU machine in small parts, and unpack it there.

The device tool moves at most 64 MiB per call, so a base encoder travels as per-row int8 weights
(2-D tensors; the rest in fp16) split into parts, one part per call; the GPU machine rebuilds an fp32
folder from them before training starts. Training only: the service never loads such a folder.

    python scripts/weights_transport.py pack FOLDER OUT_PREFIX --part-mb 50
    python scripts/weights_transport.py unpack OUT_PREFIX DEST            # reads OUT_PREFIX.part*
    python scripts/weights_transport.py pack-fp16 FOLDER OUT_PREFIX --part-mb 15   # a trained reader, back
"""

from __future__ import annotations

import argparse
import glob
import io
import json
import tarfile
from pathlib import Path

import torch
from safetensors.torch import load, load_file, save, save_file

# files of the folder that travel beside the weights (tokenizer and configs); sub-folders stay behind
SMALL_FILES = ("config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt",
               "qa_config.json", "training_config.json")


GROUP = 128  # values sharing one scale: a row's outliers then spoil only their own group


def quantise(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Symmetric int8 in groups of GROUP values along each row, for 2-D float tensors of 64k+ values
    whose rows divide into groups; fp16 for the rest."""
    out = {}
    for name, t in state.items():
        t = t.float()
        if t.ndim == 2 and t.numel() >= 65536 and t.shape[1] % GROUP == 0:
            g = t.reshape(t.shape[0], -1, GROUP)
            scale = g.abs().amax(dim=2, keepdim=True).clamp(min=1e-12) / 127.0
            out[name + "::q"] = torch.round(g / scale).to(torch.int8).reshape(t.shape).contiguous()
            out[name + "::s"] = scale.squeeze(2).half().contiguous()
        else:
            out[name + "::f"] = t.half().contiguous()
    return out


def dequantise(packed: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    out = {}
    for key, t in packed.items():
        name, kind = key.rsplit("::", 1)
        if kind == "q":
            scale = packed[name + "::s"].float().unsqueeze(2)
            out[name] = (t.float().reshape(t.shape[0], -1, GROUP) * scale).reshape(t.shape)
        elif kind == "f":
            out[name] = t.float()
    return out


def _tar(folder: Path, weights: bytes) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:xz", preset=1) as tar:
        for name in SMALL_FILES:
            if (folder / name).exists():
                tar.add(folder / name, arcname=name)
        info = tarfile.TarInfo("weights.safetensors")
        info.size = len(weights)
        tar.addfile(info, io.BytesIO(weights))
    return buf.getvalue()


def _split(blob: bytes, prefix: str, part_mb: float) -> list[str]:
    size = int(part_mb * 1024 * 1024)
    Path(prefix).parent.mkdir(parents=True, exist_ok=True)
    names = []
    for i in range(0, len(blob), size):
        name = f"{prefix}.part{i // size:02d}"
        Path(name).write_bytes(blob[i : i + size])
        names.append(name)
    return names


def _joined(prefix: str) -> bytes:
    parts = sorted(glob.glob(prefix + ".part*"))
    if not parts:
        raise SystemExit(f"no parts {prefix}.part*")
    return b"".join(Path(p).read_bytes() for p in parts)


def pack(folder: Path, prefix: str, part_mb: float, fp16: bool) -> list[str]:
    # the pooler serves sentence embeddings; a span-head model is built without it
    state = {k: v for k, v in load_file(folder / "model.safetensors").items() if not k.startswith("pooler.")}
    packed = {k: v.half().contiguous() if v.is_floating_point() else v for k, v in state.items()} if fp16 else quantise(state)
    return _split(_tar(folder, save(packed, metadata={"format": "fp16" if fp16 else "int8rows"})), prefix, part_mb)


def unpack(prefix: str, dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(_joined(prefix)), mode="r:xz") as tar:
        weights = tar.extractfile("weights.safetensors").read()
        for m in tar.getmembers():
            if m.name != "weights.safetensors":
                (dest / m.name).write_bytes(tar.extractfile(m).read())
    packed = load(weights)
    state = dequantise(packed) if any(k.endswith("::q") or k.endswith("::f") for k in packed) else packed
    save_file({k: v.contiguous() for k, v in state.items()}, dest / "model.safetensors", metadata={"format": "pt"})
    return dest


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    for cmd in ("pack", "pack-fp16"):
        p = sub.add_parser(cmd)
        p.add_argument("folder", type=Path)
        p.add_argument("prefix")
        p.add_argument("--part-mb", type=float, default=50)
    p = sub.add_parser("unpack")
    p.add_argument("prefix")
    p.add_argument("dest", type=Path)
    args = ap.parse_args()
    if args.cmd in ("pack", "pack-fp16"):
        names = pack(args.folder, args.prefix, args.part_mb, fp16=args.cmd == "pack-fp16")
        print(json.dumps({n: Path(n).stat().st_size for n in names}))
    else:
        print(unpack(args.prefix, args.dest))


if __name__ == "__main__":
    main()
