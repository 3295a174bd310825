"""Topic identity across fits: continued, born, died, split, merged; seed agreement."""

import numpy as np
import pandas as pd

from pipeline.topics.lineage import format_stable_id, match_topics, seed_agreement

E = np.eye(4, dtype=np.float32)


def topics(ids, centroids, stable=None):
    frame = pd.DataFrame({"topic_id": ids, "centroid": [c.tolist() for c in centroids]})
    if stable is not None:
        frame["stable_id"] = stable
    return frame


def assign(mapping):
    return pd.Series(mapping, name="topic_id")


def test_first_fit_gives_every_topic_a_new_stable_id():
    lin = match_topics(topics([], [], []), topics([0, 1], [E[0], E[1]]), assign({}), assign({}), 7)
    assert lin.stable_ids == {0: "T0007", 1: "T0008"}
    assert lin.events["event"].tolist() == ["born", "born"]


def test_same_topics_under_other_ids_keep_their_stable_ids():
    prev = topics([0, 1], [E[0], E[1]], ["T0001", "T0002"])
    new = topics([0, 1], [E[1], E[0]])  # the ids swapped
    pa = assign({"a": 0, "b": 0, "c": 1, "d": 1})
    nb = assign({"a": 1, "b": 1, "c": 0, "d": 0})
    lin = match_topics(prev, new, pa, nb, 3)
    assert lin.stable_ids == {0: "T0002", 1: "T0001"}
    assert set(lin.events["event"]) == {"continued"}
    assert seed_agreement(lin, pa, nb, {0: "T0001", 1: "T0002"}) == 1.0


def test_births_deaths_splits_and_merges():
    prev = topics([0, 1, 2], [E[0], E[1], E[2]], ["T0001", "T0002", "T0003"])
    # prev 0 splits into new 0 and 1; prev 1 and 2 merge into new 2; new 3 is new
    new = topics([0, 1, 2, 3], [E[0], (E[0] + E[3]) / np.sqrt(2), (E[1] + E[2]) / np.sqrt(2), E[3]])
    pa = assign({**{f"s{i}": 0 for i in range(10)}, **{f"m{i}": 1 for i in range(5)},
                 **{f"n{i}": 2 for i in range(5)}})  # fmt: skip
    nb = assign({**{f"s{i}": (0 if i < 5 else 1) for i in range(10)},
                 **{f"m{i}": 2 for i in range(5)}, **{f"n{i}": 2 for i in range(5)},
                 "x1": 3, "x2": 3})  # fmt: skip
    lin = match_topics(prev, new, pa, nb, 4)
    ev = lin.events
    assert lin.stable_ids[0] == "T0001"  # the bigger half continues the old topic
    split = ev[ev.event == "split"]
    assert sorted(split["topic_id"]) == [0, 1] and set(split["previous_topic_id"]) == {0}
    merged = ev[ev.event == "merged"]
    assert set(merged["previous_topic_id"]) == {1, 2} and set(merged["topic_id"]) == {2}
    assert format_stable_id(4) in set(ev[ev.event == "born"]["stable_id"])
    assert len(ev[ev.event == "died"]) == 1  # one of the merged pair has no successor of its own
