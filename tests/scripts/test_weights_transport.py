"""scripts/weights_transport.py: base encoders travel to a GPU machine as grouped int8 parts, trained readers
come back as fp16 parts; both unpack into folders transformers loads."""

import sys

import torch
from safetensors.torch import load_file
from transformers import AutoModelForQuestionAnswering

from conftest import REPO, make_tiny_reader

sys.path.insert(0, str(REPO / "scripts"))
from weights_transport import dequantise, pack, quantise, unpack  # noqa: E402


def test_grouped_int8_keeps_every_weight_within_about_half_a_step_of_its_group_scale():
    torch.manual_seed(0)
    w = torch.randn(300, 256)
    w[3, 7] = 40.0  # an outlier spoils only its own group of 128 values
    packed = quantise({"w": w, "b": torch.randn(256)})
    assert packed["w::q"].dtype == torch.int8 and packed["b::f"].dtype == torch.float16
    back = dequantise(packed)
    step = w.reshape(300, 2, 128).abs().amax(dim=2, keepdim=True) / 127
    # half a step of rounding, plus the scale's own fp16 rounding (2^-11 relative) over up to 127 steps
    assert ((back["w"] - w).reshape(300, 2, 128).abs() <= step * (0.5 + 127 / 2048)).all()
    assert (back["w"][4] - w[4]).abs().max() < 0.02  # a row without outliers is nearly exact


def test_int8_parts_unpack_into_a_loadable_model_close_to_the_original(tmp_path):
    src = make_tiny_reader(tmp_path / "src")
    names = pack(src, str(tmp_path / "parts" / "m"), part_mb=0.2, fp16=False)
    assert len(names) > 1  # split into parts of at most 0.2 MB
    dest = unpack(str(tmp_path / "parts" / "m"), tmp_path / "dest")
    a, b = load_file(src / "model.safetensors"), load_file(dest / "model.safetensors")
    assert set(b) == {k for k in a if not k.startswith("pooler.")}
    assert max(((a[k] - b[k]).norm() / a[k].norm().clamp(min=1e-9)).item() for k in b) < 0.02
    x = torch.randint(100, 1000, (1, 12))
    with torch.no_grad():
        s1 = AutoModelForQuestionAnswering.from_pretrained(src)(input_ids=x).start_logits
        s2 = AutoModelForQuestionAnswering.from_pretrained(dest)(input_ids=x).start_logits
    assert torch.allclose(s1, s2, atol=0.05)


def test_fp16_parts_come_back_as_the_same_half_precision_weights(tmp_path):
    src = make_tiny_reader(tmp_path / "src")
    pack(src, str(tmp_path / "m"), part_mb=15, fp16=True)
    dest = unpack(str(tmp_path / "m"), tmp_path / "dest")
    a, b = load_file(src / "model.safetensors"), load_file(dest / "model.safetensors")
    assert all(b[k].dtype == torch.float16 and torch.equal(b[k], a[k].half()) for k in b)
    assert (dest / "tokenizer.json").exists() and (dest / "qa_config.json").exists()
