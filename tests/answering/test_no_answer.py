"""The "not found" decision's features and policy, see qa/answering/no_answer.py."""

import pytest

from qa.answering.no_answer import (FEATURES, NOTHING, NoAnswerPolicy, expected_type, features, question_coverage, question_support,
                          type_mismatch)


@pytest.mark.parametrize("question, kind", [
    ("How many soldiers were recruited in 2023?", "number"),
    ("how much did the bridge cost?", "number"),
    ("What is the annual defense budget of Ha Tinh province?", "number"),
    ("What percentage of households were visited?", "number"),
    ("When was Military Region 4 founded?", "date"),
    ("In what year did the conference take place?", "date"),
    ("On which day was the plan issued?", "date"),
    ("Who is the Political Commissar of Military Region 4?", None),
    ("Where was the 2018 coordination conference held?", None),
    ("What did the troops bring to the village?", None),
])
def test_expected_type_from_the_question_wording(question, kind):
    assert expected_type(question) == kind


def test_type_mismatch_needs_a_number_or_a_date_in_the_answer():
    assert type_mismatch("How many delegates attended?", "investing budget and resources") == 1.0
    assert type_mismatch("How many delegates attended?", "350") == 0.0
    assert type_mismatch("How many delegates attended?", "three hundred") == 0.0
    assert type_mismatch("When was it founded?", "young officers") == 1.0
    assert type_mismatch("When was it founded?", "September 5, 2019") == 0.0
    assert type_mismatch("When was it founded?", "in the spring") == 0.0
    assert type_mismatch("Who won the contest?", "young officers") == 0.0  # no type asked for: no mismatch


def test_question_coverage_counts_content_words_only():
    assert question_coverage("Who commands the Military Region?", "The Military Region is commanded by X.") == pytest.approx(2 / 3)
    assert question_coverage("What is it?", "anything") == 1.0  # nothing but stop words
    assert question_coverage("Population of Hue?", "Troops brought rice.") == 0.0


def test_question_support_counts_only_the_text_around_the_span():
    q = "Who commands the Military Region?"
    far = "The Military Region held a meeting in spring." + " " * 200 + "Its budget was approved by Colonel Tran."
    start = far.index("Colonel Tran")
    # the question's words are in the passage but not within reach of the span: no support
    assert question_support(q, far, start, start + len("Colonel Tran"), reach=150) == 0.0
    assert question_coverage(q, far) == pytest.approx(2 / 3)
    near = "Colonel Tran commands the Military Region."
    assert question_support(q, near, 0, len("Colonel Tran")) == 1.0
    assert question_support(q, far, start, start + 12, reach=10_000) == pytest.approx(2 / 3)


def test_features_follow_the_declared_order():
    passage = "Most of the fires are small."
    f = features("How many fires occurred?", passage, 0, len("Most of the fires are small"),
                 margin=2.5, dense=0.4, lexical_share=1.0, dense_gap=-0.2)
    assert len(f) == len(FEATURES) - 1  # no verifier's logit given: all but the last
    assert f[:4] == (2.5, 0.4, 1.0, 1.0)  # the span holds no number: type mismatch
    assert f[4] == pytest.approx(1 / 2)  # "fires" found, "occurred" not
    assert f[FEATURES.index("dense gap")] == -0.2
    assert features("How many fires occurred?", "12 fires occurred", 0, 2, 2.5, 0.4, 1.0, 0.0)[3:5] == (0.0, 1.0)
    with_v = features("How many fires occurred?", passage, 0, 5, 2.5, 0.4, 1.0, 0.0, verified=-1.5)
    assert len(with_v) == len(FEATURES) == len(NOTHING) and with_v[FEATURES.index("answer verifier")] == -1.5


def test_only_a_policy_with_the_verifier_weight_asks_for_a_verifier():
    assert not NoAnswerPolicy((0.2, 1.8, 1.4, -0.5, 0.7), -5.1, 0.34).uses_verifier
    assert not NoAnswerPolicy((0.2, 1.8, 1.4, -0.5, 0.7, 3.0), -5.1, 0.34).uses_verifier
    seven = NoAnswerPolicy((0.1, 2.2, 1.2, -0.1, 1.5, 3.0, 0.4), -3.0, 0.3)
    assert seven.uses_verifier and NoAnswerPolicy.from_config(seven.to_config()) == seven
    assert seven.to_config()["features"][-1] == "answer verifier"
    # a low verifier logit lowers the probability, all else equal
    assert (seven.probability((1.0, 0.5, 1.0, 0.0, 0.8, 0.0, -4.0))
            < seven.probability((1.0, 0.5, 1.0, 0.0, 0.8, 0.0, 4.0)))


def test_a_policy_fitted_on_other_features_is_refused():
    fitted = NoAnswerPolicy((0.2, 1.8, 1.4, -0.5, 0.7), -5.1, 0.34).to_config()
    assert NoAnswerPolicy.from_config(fitted).weights == (0.2, 1.8, 1.4, -0.5, 0.7)
    stale = dict(fitted, features=fitted["features"][:4] + ["question coverage"])  # computed otherwise now
    with pytest.raises(ValueError, match="refit"):
        NoAnswerPolicy.from_config(stale)


def test_policy_margin_only_and_logistic():
    p = NoAnswerPolicy.margin_only(2.0)
    assert p.probability((2.0, 0.3, 1.0, 0.0, 1.0)) == 0.5 and p.probability((5.0, 0, 0)) > 0.9
    q = NoAnswerPolicy((1.0, 10.0, 0.0, -3.0), -5.0, cutoff=0.6)
    assert q.probability((0.0, 0.8, 0.0, 0.0)) > q.probability((0.0, 0.2, 0.0, 0.0))  # retrieval similarity counts
    assert q.probability((0.0, 0.8, 0.0, 1.0)) < q.probability((0.0, 0.8, 0.0, 0.0))  # a type mismatch counts
    assert NoAnswerPolicy.from_config(q.to_config()) == q
    assert q.to_config()["features"] == list(FEATURES[:4])


def test_a_policy_fitted_on_fewer_features_ignores_the_rest():
    old = NoAnswerPolicy.from_config({"weights": [0.2, 2.0, 2.4], "bias": -4.6, "cutoff": 0.23})
    assert old.probability((1.0, 0.5, 1.0, 1.0, 0.1)) == old.probability((1.0, 0.5, 1.0))
