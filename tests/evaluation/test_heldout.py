"""Held-out splits and made-up unanswerable questions, see qa/evaluation/heldout.py."""

import random

from qa.evaluation.heldout import add_synthetic_negatives, remove_paragraphs
from qa.evaluation.squad import Answer, QAExample, load_squad


def test_synthetic_negatives_come_from_other_paragraphs_without_the_answer(tiny_squad):
    exs = load_squad(tiny_squad)
    negs = add_synthetic_negatives(exs, 1.0, random.Random(0))
    assert negs
    for n in negs:
        src = next(e for e in exs if e.id == n.id[:-4])
        assert n.is_impossible and n.context != src.context and src.answers[0].text not in n.context


def test_removed_paragraphs_make_their_questions_unanswerable():
    exs = [QAExample(f"q{i}", f"question {i}?", f"context {i % 10}", (Answer("context", 0),), f"art{i % 3}")
           for i in range(100)]
    out, gone = remove_paragraphs(exs, 0.3, seed=1)
    assert 0 < len(gone) < 10 and len(out) == len(exs)
    for before, after in zip(exs, out):
        assert (before.context in gone) == after.is_impossible  # exactly the removed paragraphs' questions
        assert after.question == before.question
    assert remove_paragraphs(exs, 0.3, seed=1)[1] == gone  # deterministic
    assert remove_paragraphs(exs, 0.3, seed=2)[1] != gone  # `qa reader calibrate --seed` draws another split
