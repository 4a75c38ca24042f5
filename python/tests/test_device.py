"""A device's local records through the Python package."""
import pytest

import syncstack


@pytest.fixture(params=["memory", "sqlite", "lmdb"])
def device(request, tmp_path):
    uri = {"memory": "memory:", "sqlite": "sqlite:" + str(tmp_path / "d.db"),
           "lmdb": "lmdb:" + str(tmp_path / "lmdb")}[request.param]
    with syncstack.Device(uri) as d:
        yield d


def test_put_get_list_delete(device):
    milk = device.put("todo", {"title": "milk", "n": 1})
    eggs = device.put("todo", '{"title": "eggs"}')
    assert len(milk) == 36 and milk != eggs
    got = device.get("todo", milk)
    assert got["title"] == "milk" and got["n"] == 1
    assert got["id"] == milk and got["_state"] == "created"
    assert "last_update" in got
    assert sorted(r["title"] for r in device.list("todo")) == ["eggs", "milk"]
    device.put("todo", {"title": "oat milk"}, id=milk)
    assert device.get("todo", milk)["title"] == "oat milk"
    device.delete("todo", eggs)
    assert [r["id"] for r in device.list("todo")] == [milk]
    assert device.collections() == ["todo"]
    with pytest.raises(syncstack.NotFoundError) as e:
        device.get("todo", eggs)
    assert eggs in e.value.message


def test_the_id_key_of_the_record_is_used(device):
    rid = "0b5e7d2c-1111-4222-8333-444455556666"
    assert device.put("todo", {"id": rid, "title": "x"}) == rid
    with pytest.raises(syncstack.InvalidArgumentError, match="differs"):
        device.put("todo", {"id": rid, "title": "y"},
                   id="0b5e7d2c-1111-4222-8333-444455556667")
    assert device.get("todo", rid)["title"] == "x"


def test_bad_input_raises_and_changes_nothing(device):
    device.put("todo", {"title": "milk"})
    before = device.list("todo")
    for bad in ("{", "[1]", "not json"):
        with pytest.raises(syncstack.InvalidArgumentError) as e:
            device.put("todo", bad)
        assert e.value.name == "invalid_argument" and e.value.message
    with pytest.raises(syncstack.InvalidArgumentError):
        device.put("bad name", {"t": 1})
    with pytest.raises(syncstack.InvalidArgumentError):
        device.delete("todo", "not-a-uuid")
    with pytest.raises(syncstack.NotFoundError):
        device.delete("todo", "0b5e7d2c-1111-4222-8333-444455556666")
    assert device.list("todo") == before


def test_each_streams_and_stops(device):
    for i in range(5):
        device.put("notes", {"i": i})
    seen = []
    assert device.each("notes", seen.append) == 5
    assert sorted(r["i"] for r in seen) == list(range(5))
    assert device.each("notes", lambda r: True) == 1  # stops at the first
    with pytest.raises(ZeroDivisionError):
        device.each("notes", lambda r: 1 / 0)


def test_bad_uri_raises_with_the_message():
    with pytest.raises(syncstack.InvalidArgumentError, match="nosuch"):
        syncstack.Device("nosuch:x")
    with pytest.raises(syncstack.InvalidArgumentError, match="needs a path"):
        syncstack.Device("sqlite:")


def test_closed_device_raises():
    d = syncstack.Device("memory:")
    d.close()
    with pytest.raises(syncstack.InvalidArgumentError, match="closed"):
        d.list("todo")
    assert syncstack.version().count(".") == 2
