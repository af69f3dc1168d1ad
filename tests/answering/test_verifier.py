"""The answer verifier, see qa/answering/verifier.py: what it reads, and the shipped one's judgement."""

import pytest

from qa.answering.verifier import AnswerVerifier, Proposal, VerifierNotFound, marked
from qa.settings import Settings

from conftest import SEEDS


def test_the_span_is_read_between_marks_with_its_surroundings():
    passage = "On the morning of April 24, in Vinh city, the offices held a conference."
    start = passage.index("Vinh city")
    text = marked(passage, start, start + len("Vinh city"), reach=10)
    assert text == "il 24, in  « Vinh city » , the offi"  # 10 characters either side; spacing does not reach the tokens
    assert marked(passage, 0, 2, reach=1000).startswith(" « On »  the morning")


def test_a_missing_verifier_is_a_clear_problem(tmp_path):
    v = AnswerVerifier.from_settings(Settings(verifier_dir=tmp_path))
    with pytest.raises(VerifierNotFound, match="QA_VERIFIER_DIR"):
        v.warm_up()


def test_scores_come_back_in_the_order_given_whatever_the_batching(tiny_verifier_dir):
    p = "The conference was held in Vinh city on April 24 by the Office of Military Region 4."
    props = [Proposal("Where was the conference held?", p, p.index("Vinh city"), p.index("Vinh city") + 9),
             Proposal("When was it held, and by which office of which military region?" * 3, p, 0, 14),
             Proposal("Who held it?", p, p.index("the Office"), len(p) - 1)]
    one_by_one = [AnswerVerifier.from_settings(Settings(verifier_dir=tiny_verifier_dir)).run([x])[0] for x in props]
    batched = AnswerVerifier.from_settings(Settings(verifier_dir=tiny_verifier_dir), batch_size=2).run(props)
    assert batched == pytest.approx(one_by_one, abs=1e-4)
    assert AnswerVerifier.from_settings(Settings(verifier_dir=tiny_verifier_dir)).run([]) == []

