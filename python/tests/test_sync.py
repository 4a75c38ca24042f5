"""Two devices sync through a real `syncstack serve` from Python."""
import pytest

import syncstack


def test_two_devices_converge_with_progress(server, tmp_path):
    phone = syncstack.Device("sqlite:" + str(tmp_path / "phone.db"))
    laptop = syncstack.Device("lmdb:" + str(tmp_path / "laptop"))
    milk = phone.put("todo", {"title": "milk"})
    eggs = phone.put("todo", {"title": "eggs"})
    laptop.put("todo", {"title": "bread"})

    calls = []
    report = phone.sync(server, user="mark", password="mark-pw",
                        device="phone",
                        progress=lambda *p: calls.append(p))
    assert report["cases"]["pushed_adds"] == 2
    assert report["bytes_sent"] > 0 and report["conflicts"] == []
    phases = [c[0] for c in calls]
    assert "exchange" in phases and phases[-1] == "done"
    for (p1, d1, t1), (p2, d2, _) in zip(calls, calls[1:]):
        assert d1 <= t1 or t1 == 0
        if p1 == p2:
            assert d2 >= d1  # honest progress: never backwards

    report = laptop.sync(server, user="mark", password="mark-pw",
                         device="laptop", collections=["todo"], mode="full")
    assert report["cases"]["fetched_new"] == 2
    assert report["cases"]["pushed_adds"] == 1

    laptop.put("todo", {"title": "oat milk"}, id=milk)
    phone.delete("todo", eggs)
    phone.sync(server, user="mark", password="mark-pw", device="phone")
    laptop.sync(server, user="mark", password="mark-pw", device="laptop")
    phone.sync(server, user="mark", password="mark-pw", device="phone")
    assert phone.list("todo") == laptop.list("todo")
    assert phone.get("todo", milk)["title"] == "oat milk"
    assert sorted(r["title"] for r in phone.list("todo")) == [
        "bread", "oat milk"]
    phone.close()
    laptop.close()


def test_sync_errors_carry_the_message(server):
    d = syncstack.Device("memory:")
    d.put("todo", {"title": "milk"})
    with pytest.raises(syncstack.UnauthorizedError) as e:
        d.sync(server, user="mark", password="wrong")
    assert e.value.message
    with pytest.raises(syncstack.InvalidArgumentError, match="https"):
        d.sync(server, user="mark", password="mark-pw",
               ca_file="/etc/ssl/certs/ca-certificates.crt")
    with pytest.raises(syncstack.InvalidArgumentError, match="mode"):
        d.sync(server, user="mark", password="mark-pw", mode="fast")
    with pytest.raises(syncstack.UnavailableError):
        d.sync("http://127.0.0.1:9", user="mark", password="mark-pw",
               lock_wait=0)
    assert [r["title"] for r in d.list("todo")] == ["milk"]
    assert d.list("todo")[0]["_state"] == "created"


def test_an_exception_in_progress_is_raised_after_the_sync(server):
    d = syncstack.Device("memory:")
    d.put("notes", {"title": "milk"})

    def boom(phase, done, total):
        raise RuntimeError("from progress")

    with pytest.raises(RuntimeError, match="from progress"):
        d.sync(server, user="mark", password="mark-pw",
               collections="notes", progress=boom)
    # The sync itself went through.
    assert d.list("notes")[0]["_state"] == "synced"
