"""Reader training code path on a tiny sample (tiny model), see qa/training/train.py."""

import random

from transformers import AutoTokenizer

from qa.evaluation.squad import load_squad
from qa.training.train import (TrainConfig, build_features, drop_long_answers, epoch_batches,
                             train)

from conftest import PARAS, make_reader, make_tiny_reader

def test_features_label_answer_tokens_and_no_answer(tiny_squad, tiny_reader_dir):
    tok = AutoTokenizer.from_pretrained(tiny_reader_dir)
    exs = load_squad(tiny_squad)
    cfg = TrainConfig(data=[], out="", max_length=64, stride=16, keep_negative_windows=1.0)
    feats = build_features(exs, tok, cfg, random.Random(0))
    for ex, f in zip(exs, feats):
        if ex.is_impossible:
            assert f["start"] == f["end"] == 0
        else:
            got = tok.decode(f["input_ids"][f["start"] : f["end"] + 1])
            assert got.lower() == ex.answers[0].text.lower()


def test_drop_long_answers_keeps_short_answers_and_unanswerable_questions(tiny_squad):
    exs = load_squad(tiny_squad)
    kept = drop_long_answers(exs, 2)
    assert {e.answers[0].text for e in kept if e.answers} == {"Vinh city", "rice"}  # "Ha Tan Tien" has 3 words
    assert sum(e.is_impossible for e in kept) == sum(e.is_impossible for e in exs) == 2
    assert drop_long_answers(exs, 3) == exs  # the longest answers ("Ha Tan Tien", "18th September 2019") have 3


def test_length_grouped_batches_cover_everything_deterministically():
    lengths = [random.Random(i).randint(10, 300) for i in range(500)]
    a, b = epoch_batches(lengths, 16, 3, 0), epoch_batches(lengths, 16, 3, 0)
    assert a == b and a != epoch_batches(lengths, 16, 3, 1)
    assert sorted(i for batch in a for i in batch) == list(range(500))


def _weights(folder):
    from safetensors.torch import load_file

    return load_file(folder / "model.safetensors")


def test_train_a_few_steps_checkpoint_resume_and_load(tiny_squad, tmp_path):
    """A run stopped after 3 batches and resumed ends with the very weights of the same run done in one go:
    the checkpoint carries the model, the optimiser's moments, the schedule and the random state."""
    import torch

    base = make_tiny_reader(tmp_path / "base")
    common = dict(data=[str(tiny_squad)], base_model=str(base), max_length=64, stride=16, batch_size=2, epochs=2,
                  lr=1e-3, threads=1)
    whole = train(TrainConfig(out=str(tmp_path / "whole"), **common))
    cfg = TrainConfig(out=str(tmp_path / "run"), max_batches_this_run=3, **common)
    ckpt = train(cfg)
    assert ckpt.name == "checkpoint.pt" and not (tmp_path / "run" / "final").exists()
    cfg.max_batches_this_run, cfg.resume = 0, True
    final = train(cfg)
    log = (tmp_path / "run" / "train.log").read_text()
    assert "resumed from" in log and "at batch 3/" in log and "finished" in log
    resumed, straight, start = _weights(final), _weights(whole), _weights(base)
    assert resumed.keys() == straight.keys()
    for k in straight:
        assert torch.allclose(resumed[k], straight[k], atol=1e-6), k
    assert any(not torch.allclose(straight[k].float(), start[k].float()) for k in straight)  # it did train
    reader = make_reader(final, max_length=64, stride=16)
    spans = reader.read("Where was the conference held?", [PARAS[0][0]])
    assert spans[0][0].text in PARAS[0][0]


def test_device_auto_is_a_gpu_only_where_there_is_one_and_unknown_devices_are_refused():
    import pytest
    import torch

    from qa.training.train import resolve_device

    assert resolve_device("cpu").type == "cpu"
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(ValueError, match="use auto, cpu or cuda"):
        resolve_device("tpu")


def test_two_runs_in_one_process_each_log_to_their_own_file_only(tiny_squad, tmp_path):
    base = make_tiny_reader(tmp_path / "base")
    for name in ("one", "two"):
        train(TrainConfig(data=[str(tiny_squad)], out=str(tmp_path / name), base_model=str(base), max_length=64,
                          stride=16, batch_size=2, epochs=1, threads=1, max_batches_this_run=1))
    first = (tmp_path / "one" / "train.log").read_text()
    assert '"out": "%s"' % (tmp_path / "one") in first and str(tmp_path / "two") not in first
    assert str(tmp_path / "two") in (tmp_path / "two" / "train.log").read_text()
