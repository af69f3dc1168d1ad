"""Distillation (qa/training/distill.py): carrying teacher logits over to student tokens, and a student that
learns the teacher's distributions through `train(..., teacher=...)`."""

import json
import random

import numpy as np
import pytest
import torch
from transformers import AutoModelForQuestionAnswering, AutoTokenizer

from qa.training.distill import NEG, carry_over, distill_loss, teacher_targets
from qa.evaluation.squad import load_squad
from qa.training.train import TrainConfig, _padded_targets, build_features, collate, train

from conftest import make_tiny_reader


def test_carry_over_follows_character_offsets_across_special_token_layouts():
    # student: [CLS] q [SEP] c0 c1 c2 [SEP]; teacher: <s> q </s> </s> c0 c1 c2 </s> (context one position later)
    student = [None, None, None, (0, 3), (4, 9), (10, 12), None]
    teacher = [None, None, None, None, (0, 3), (4, 9), (10, 12), None]
    t_start = np.array([9.0, 1, 1, 1, 5, 6, 7, 1])
    t_end = np.array([8.0, 1, 1, 1, 15, 16, 17, 1])
    s, e = carry_over(student, teacher, t_start, t_end)
    assert s.tolist() == [9, NEG, NEG, 5, 6, 7, NEG]  # no-answer position 0 -> 0; question and separators: NEG
    assert e.tolist() == [8, NEG, NEG, 15, 16, 17, NEG]


def test_carry_over_uses_the_covering_teacher_token_where_tokenisations_differ():
    student = [None, (0, 2), (2, 5), (6, 9)]  # "un" "able" | "cat"
    teacher = [None, (0, 5), (6, 9)]  # "unable" | "cat"
    s, e = carry_over(student, teacher, np.array([0.0, 3, 4]), np.array([0.0, 13, 14]))
    assert s.tolist() == [0, 3, 3, 4]  # both pieces start inside teacher token 1
    assert e.tolist() == [0, 13, 13, 14]


def test_distill_loss_is_zero_only_when_the_student_matches_the_teacher():
    t = torch.tensor([[2.0, 0.5, NEG, 1.0]])
    assert distill_loss(t.clone(), t.clone(), t, t, 2.0).item() == pytest.approx(0.0, abs=1e-6)
    assert distill_loss(torch.zeros(1, 4), torch.zeros(1, 4), t, t, 2.0).item() > 0.1


def test_distill_loss_weights_leave_out_the_windows_weighted_zero():
    t = torch.tensor([[2.0, 0.5, NEG, 1.0], [0.0, 3.0, 1.0, NEG]])
    s = torch.tensor([[2.0, 0.5, NEG, 1.0], [1.0, 0.0, 0.0, 0.0]])  # matches the teacher on window 0 only
    both = distill_loss(s, s, t, t, 2.0).item()
    assert distill_loss(s, s, t, t, 2.0, torch.tensor([1.0, 0.0])).item() == pytest.approx(0.0, abs=1e-6)
    assert distill_loss(s, s, t, t, 2.0, torch.tensor([0.0, 1.0])).item() == pytest.approx(2 * both, rel=1e-5)
    assert distill_loss(s, s, t, t, 2.0, torch.tensor([0.0, 0.0])).item() == 0.0


def test_answerable_only_distillation_leaves_unanswerable_windows_to_the_gold(tiny_squad, tmp_path):
    # only unanswerable questions: with the teacher's loss alone and answerable windows only, nothing is learnt
    data = json.loads(tiny_squad.read_text())
    for art in data["data"]:
        for p in art["paragraphs"]:
            for q in p["qas"]:
                q["is_impossible"], q["answers"] = True, []
    unanswerable = tmp_path / "unanswerable.json"
    unanswerable.write_text(json.dumps(data))
    student = make_tiny_reader(tmp_path / "student", seed=0)
    teacher = _sharp_teacher(tmp_path / "teacher")
    moved = {}
    for only in (True, False):
        cfg = TrainConfig(data=[str(unanswerable)], out=str(tmp_path / f"run-{only}"), base_model=str(student),
                          max_length=64, stride=16, batch_size=4, epochs=2, lr=3e-3, warmup=0.0, weight_decay=0.0,
                          threads=1, teacher=str(teacher), distill_alpha=1.0, temperature=1.0,
                          keep_negative_windows=1.0, synthetic_negatives=0.0, distill_answerable_only=only)
        a = AutoModelForQuestionAnswering.from_pretrained(student).qa_outputs.weight
        b = AutoModelForQuestionAnswering.from_pretrained(train(cfg)).qa_outputs.weight
        moved[only] = (a - b).abs().max().item()
    assert moved[True] == 0.0 and moved[False] > 1e-4, moved


def _sharp_teacher(folder):
    """A tiny random reader with a span head scaled up, so its start/end distributions are far from uniform."""
    make_tiny_reader(folder, seed=1)
    model = AutoModelForQuestionAnswering.from_pretrained(folder)
    with torch.no_grad():
        model.qa_outputs.weight.mul_(40.0)
    model.save_pretrained(folder)
    return folder


def _mean_kl(student_dir, teacher_dir, squad_path, tmp_path) -> float:
    """KL(teacher targets || student) over the training windows, as training measures it."""
    tok = AutoTokenizer.from_pretrained(student_dir)
    exs = load_squad(squad_path)
    feats = build_features(exs, tok, TrainConfig(data=[], out="", max_length=64, stride=16, keep_negative_windows=1.0),
                           random.Random(0), keep_offsets=True)
    targets = teacher_targets(feats, [e.question for e in exs], [e.context for e in exs], str(teacher_dir),
                              tmp_path / f"kl-{random.random()}.pt", 64, bf16=False)
    batch = collate(feats, tok.pad_token_id)
    with torch.no_grad():
        s = AutoModelForQuestionAnswering.from_pretrained(student_dir)(**batch)
    t_start, t_end = _padded_targets(targets, batch["input_ids"].shape[1])
    return distill_loss(s.start_logits, s.end_logits, t_start, t_end, 1.0).item()


def test_training_with_a_teacher_moves_the_student_towards_it_and_caches_the_targets(tiny_squad, tmp_path):
    student = make_tiny_reader(tmp_path / "student", seed=0)
    teacher = _sharp_teacher(tmp_path / "teacher")
    cfg = TrainConfig(data=[str(tiny_squad)], out=str(tmp_path / "run"), base_model=str(student), max_length=64,
                      stride=16, batch_size=4, epochs=15, lr=3e-3, warmup=0.0, threads=1, teacher=str(teacher),
                      distill_alpha=1.0, temperature=1.0, keep_negative_windows=1.0, synthetic_negatives=0.0)
    final = train(cfg)
    assert (tmp_path / "run" / "teacher_logits.pt").exists()
    before, after = _mean_kl(student, teacher, tiny_squad, tmp_path), _mean_kl(final, teacher, tiny_squad, tmp_path)
    assert after < 0.5 * before, (before, after)

    # a second run over the same windows reads the cached teacher targets instead of loading the teacher again
    (teacher / "model.safetensors").rename(teacher / "gone.safetensors")
    train(cfg)


def test_a_fraction_of_an_epoch_scores_only_the_windows_it_will_see(tiny_squad, tmp_path):
    student = make_tiny_reader(tmp_path / "student", seed=0)
    teacher = _sharp_teacher(tmp_path / "teacher")
    cfg = TrainConfig(data=[str(tiny_squad)], out=str(tmp_path / "run"), base_model=str(student), max_length=64,
                      stride=16, batch_size=2, epochs=0.4, threads=1, teacher=str(teacher), keep_negative_windows=1.0,
                      synthetic_negatives=0.0)
    train(cfg)
    scored = torch.load(tmp_path / "run" / "teacher_logits.pt", weights_only=False)["targets"]
    assert len(scored) == 4  # 10 windows, 5 batches of 2 per epoch, 0.4 epoch = 2 batches
