"""The policy simulator from Python."""
import pytest

import syncstack


def test_rows_per_skew_and_policy():
    rows = syncstack.simulate(devices=3, records=10, ops=60, seed=5,
                              skew=[0, 30], policies=["lww", "server-clock"])
    assert [(r["policy"], r["skew_seconds"]) for r in rows] == [
        ("lww", 0), ("server-clock", 0), ("lww", 30), ("server-clock", 30)]
    for r in rows:
        assert r["writes"] == 60
        assert r["converged"] is True
        assert r["lost_updates"] >= r["silent_lost_updates"] >= 0
        assert r["sync_calls"] > 0 and r["bytes"] > 0


def test_same_seed_same_rows():
    a = syncstack.simulate(ops=40, seed=3, policies=["lww"])
    b = syncstack.simulate(ops=40, seed=3, policies=["lww"])
    assert a == b


def test_all_policies_by_default():
    rows = syncstack.simulate(ops=10, records=5)
    names = [r["policy"] for r in rows]
    assert "lww" in names and "server-clock" in names and len(names) >= 3


@pytest.mark.parametrize("bad", [{"devises": 3}, {"devices": 0},
                                 {"policies": ["nope"]}, {"loss": 2},
                                 {"store": "disk"}])
def test_bad_options_raise(bad):
    with pytest.raises(syncstack.InvalidArgumentError) as e:
        syncstack.simulate(**bad)
    assert e.value.message
