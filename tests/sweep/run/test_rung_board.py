"""The rung board (sweep/run/scheduling/rung_board.py): Ray Tune's ASHA rule on pseudo-trials,
checked by hand on small examples.

The rule (``_Bracket.on_result``, reduction 3): a configuration continues at a rung unless
its value is below the 66.67th percentile (numpy, linear interpolation) of the values
recorded at that rung before it; the first at a rung always continues.
  values 1, 2, 3, 4 recorded: position 0.6667 x 3 = 2 -> cutoff 3 (3 continues: a tie);
  then 1, 2, 3, 3, 4: position 0.6667 x 4 = 2.667 -> cutoff 3: 2.9 stops.
"""
from __future__ import annotations


from sweep.config.scheduler import SchedulerConfig, bracket_of
from sweep.run.scheduling.rung_board import RungBoard, RungResult


def board(metric: str = "score", kind: str = "asha", brackets: int = 1,
          grace: int = 10, budget: int = 100) -> RungBoard:
    return RungBoard({"f": (SchedulerConfig(kind, grace, metric, 3.0, brackets), budget)})


def at(b: RungBoard, key: str, it: int, value: float, metric: str = "score") -> bool:
    r = RungResult(key, it, value, None) if metric == "score" else RungResult(key, it, None, value)
    (keep,) = b.decide("f", [r])
    return keep


def test_asha_rule_by_hand_with_a_tie():
    b = board()
    assert [at(b, k, 10, v) for k, v in [("a", 1.0), ("b", 2.0), ("c", 3.0), ("d", 4.0)]] == \
        [True, True, True, True]      # each is at or above the cutoff of those before it
    assert at(b, "e", 10, 3.0)         # cutoff of 1, 2, 3, 4 is 3: a tie continues
    assert not at(b, "f", 10, 2.9)     # cutoff of 1, 2, 3, 3, 4 is 3
    assert b.stopped("f") == {"f": 10}
    assert b.rules["f"].recorded(10) == {"a": 1.0, "b": 2.0, "c": 3.0, "d": 4.0, "e": 3.0,
                                         "f": 2.9}


def test_a_rung_not_yet_full_stops_nothing_it_cannot_compare():
    b = board()
    assert at(b, "a", 10, 0.1)        # alone at the rung: continues however bad
    assert not at(b, "b", 10, 0.05)   # cutoff of {0.1} is 0.1
    assert at(b, "c", 10, 0.1)        # a tie with the only other value
    # rung 30 is empty: "a" continues there whatever rung 10 saw
    assert at(b, "a", 30, 0.0)


def test_fd_is_minimised():
    # FD values 5, then 1 (better: continues), then 9: cutoff of {-5, -1} at 66.67% is
    # -5 + 0.6667 x 4 = -2.33, and -9 is below it: stops.
    b = board("fd")
    assert [at(b, k, 10, v, "fd") for k, v in [("a", 5.0), ("b", 1.0), ("c", 9.0)]] == \
        [True, True, False]


def test_a_decision_is_kept_when_asked_again():
    b = board()
    at(b, "a", 10, 5.0)
    assert not at(b, "b", 10, 1.0)
    # a trial resumed from a checkpoint before its rung scores it again (maybe differently)
    assert not at(b, "b", 10, 9.0)
    assert at(b, "a", 10, 0.0)


def test_no_score_stops_without_taking_part():
    b = board()
    assert at(b, "a", 10, 1.0)
    (keep,) = b.decide("f", [RungResult("nan", 10, None, None)])
    assert keep is False and "nan" not in b.rules["f"].recorded(10)


def test_a_pack_is_decided_member_by_member():
    b = board()
    keeps = b.decide("f", [RungResult(k, 10, v, None) for k, v in
                           [("a", 1.0), ("b", 0.5), ("c", 2.0), ("d", 0.1)]])
    # a alone: on; b below {1}: off; c above the 66.67% of {1, 0.5} (0.833): on;
    # d below the 66.67% of {1, 0.5, 2} (1.333): off
    assert keeps == [True, False, True, False]


def test_restore_feeds_earlier_results_and_keeps_their_decisions():
    fresh = board()
    earlier = [RungResult("a", 10, 1.0, None, True), RungResult("b", 10, 2.0, None, True),
               RungResult("c", 10, 3.0, None, True), RungResult("d", 10, 0.5, None, False),
               RungResult("a", 30, 1.0, None, True),
               RungResult("x", 10, 0.2, None, None)]  # scored, not yet decided
    assert fresh.restore("f", list(reversed(earlier))) == 5
    assert fresh.rules["f"].recorded(10) == {"a": 1.0, "b": 2.0, "c": 3.0, "d": 0.5, "x": 0.2}
    assert fresh.rules["f"].recorded(30) == {"a": 1.0}
    assert not at(fresh, "d", 10, 10.0)            # stopped before the crash: stays stopped
    # a new configuration is compared with every earlier result: the 66.67% of 0.2, 0.5, 1,
    # 2, 3 is at position 2.667: 1 + 0.667 x (2 - 1) = 1.67
    assert not at(fresh, "e", 10, 1.5)
    # then of 0.2, 0.5, 1, 1.5, 2, 3 at position 3.333: 1.5 + 0.333 x 0.5 = 1.67
    assert not at(fresh, "g", 10, 1.6)
    assert at(fresh, "h", 10, 1.7)
    assert fresh.restore("gone", earlier) == 0      # a family no longer scheduled


def test_hyperband_decides_each_configuration_in_its_bracket():
    # grace 10, reduction 3, budget 100: bracket 0 decides at 10, 30, 90; bracket 1 at 30, 90
    sched = SchedulerConfig("hyperband", 10, "score", 3.0, 2)
    b = board(kind="hyperband", brackets=2)
    keys = [f"k{i}" for i in range(40)]
    one = next(k for k in keys if bracket_of(sched, 100, k) == 1)
    zero = [k for k in keys if bracket_of(sched, 100, k) == 0][:2]
    assert at(b, zero[0], 10, 5.0)
    assert at(b, one, 10, 0.0)     # not a rung of bracket 1: continues, not recorded
    assert one not in b.rules["f"].recorded(10)
    assert not at(b, zero[1], 10, 1.0)
    assert at(b, one, 30, 0.0)     # first at bracket 1's rung 30

