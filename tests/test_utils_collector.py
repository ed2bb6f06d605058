"""collector_paused and long_lived_data: the collector is paused inside and restored after;
what long_lived_data loads ends up frozen."""

from __future__ import annotations

import gc

import pytest

from ropg.utils.collector import collector_paused, long_lived_data


@pytest.fixture
def restore_collector():
    enabled = gc.isenabled()
    yield
    gc.unfreeze()
    if enabled:
        gc.enable()
    else:
        gc.disable()


@pytest.mark.parametrize("enabled", [True, False])
def test_long_lived_data_freezes_what_it_loads(restore_collector, enabled: bool) -> None:
    gc.unfreeze()
    if enabled:
        gc.enable()
    else:
        gc.disable()
    with long_lived_data():
        assert not gc.isenabled()
        data = [{"id": str(i), "text": "x"} for i in range(1000)]
    assert gc.isenabled() is enabled
    assert gc.get_freeze_count() >= len(data)
    frozen = {id(obj) for obj in gc.get_objects()}  # the frozen generation is not listed
    assert not any(id(item) in frozen for item in data)


def test_long_lived_data_restores_the_collector_on_errors(restore_collector) -> None:
    gc.enable()
    with pytest.raises(RuntimeError), long_lived_data():
        raise RuntimeError("bad file")
    assert gc.isenabled()


def test_collector_paused_restores_the_callers_state(restore_collector) -> None:
    gc.enable()
    with collector_paused():
        assert not gc.isenabled()
        with collector_paused():  # nested: the outer block re-enables
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    with collector_paused():
        pass
    assert not gc.isenabled()  # a collector the caller disabled stays disabled
