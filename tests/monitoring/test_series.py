"""monitoring.series: the graphs' parallel lists, rates from cumulative counters, the hours
bound, and one query whatever the number of samples."""

from datetime import timedelta

import pytest
from django.utils import timezone

from monitoring import series
from tests.monitoring.conftest import host_samples, vm_samples

pytestmark = pytest.mark.django_db


def test_vm_series_gives_parallel_lists_with_rates_in_bytes_per_second(vm, settings):
    settings.MONITOR_INTERVAL = 30.0
    times = vm_samples(vm, [(None, 20.0, 0, 0), (12.5, 24.3, 3000, 600), (50.0, 30.0, 9000, 900)])
    got = series.vm_series(vm)
    assert got == {
        "interval": 30.0,
        "at": [int(at.timestamp()) for at in times],
        "cpu_percent": [None, 12.5, 50.0],
        "memory_mb": [20.0, 24.3, 30.0],
        "net_rx_bps": [None, 100.0, 200.0],
        "net_tx_bps": [None, 20.0, 10.0],
        "disk_used_mb": [None, None, None],  # these samples are from before disks had a size
        "disk_mb": vm.disk_mb,
    }


def test_vm_rate_is_none_after_a_counter_reset_and_resumes_after(vm):
    # The container restarted between the 2nd and 3rd samples: its counters began again.
    vm_samples(vm, [(1, 20, 5000, 5000), (1, 20, 8000, 6000), (1, 20, 300, 100), (1, 20, 900, 400)])
    got = series.vm_series(vm)
    assert got["net_rx_bps"] == [None, 100.0, None, 20.0]
    assert got["net_tx_bps"] == [None, 33.3, None, 10.0]


def test_vm_rate_of_an_unchanged_counter_is_zero_not_none(vm):
    vm_samples(vm, [(1, 20, 0, 0), (1, 20, 0, 0)])
    assert series.vm_series(vm)["net_rx_bps"] == [None, 0.0]


def test_series_keep_to_the_hours_asked_for(vm, cluster):
    now = timezone.now()
    vm_samples(vm, [(1, 20, 0, 0)], end=now - timedelta(minutes=90))
    vm_samples(vm, [(2, 21, 10, 10)], end=now)
    host = cluster.hosts.first()
    host_samples(host, 1, end=now - timedelta(minutes=90))
    host_samples(host, 1, end=now)
    assert series.vm_series(vm, hours=1)["cpu_percent"] == [2]
    assert series.vm_series(vm, hours=2)["cpu_percent"] == [1, 2]
    assert len(series.host_series(host, hours=1)["at"]) == 1
    assert len(series.host_series(host, hours=2)["at"]) == 2


def test_series_are_only_the_objects_own_samples(vm, owner, cluster):
    from vms import services as vm_services

    other = vm_services.instantiate(owner, "Alpine", name="other", nics=["dc-public"])
    vm_samples(other, [(99, 99, 0, 0)])
    hosts = list(cluster.hosts.all())
    host_samples(hosts[1], 3)
    assert series.vm_series(vm)["at"] == []
    assert series.host_series(hosts[0])["at"] == []


@pytest.mark.parametrize("hours", [0, 25, -1, 1.5, "2", True, None])
def test_series_refuse_hours_outside_1_to_24(vm, hours):
    with pytest.raises(ValueError, match="hours must be"):
        series.vm_series(vm, hours=hours)


@pytest.mark.parametrize(("raw", "hours"), [(None, 1), ("", 1), ("1", 1), ("24", 24), (" 6 ", 6)])
def test_parse_hours_accepts_whole_hours_from_1_to_24(raw, hours):
    assert series.parse_hours(raw) == hours


@pytest.mark.parametrize("raw", ["0", "25", "-1", "1.5", "abc", "1e3"])
def test_parse_hours_refuses_anything_else_clearly(raw):
    with pytest.raises(ValueError, match=f"hours must be a whole number from 1 to 24, not '{raw}'"):
        series.parse_hours(raw)


def test_host_series_gives_parallel_lists(cluster, settings):
    host = cluster.hosts.first()
    host_samples(host, 3, used_mb=500, vms_running=2)
    got = series.host_series(host)
    assert got["interval"] == settings.MONITOR_INTERVAL
    assert got["cpu_percent"] == [None, 21.0, 22.0]
    assert got["memory_used_mb"] == [500, 501, 502]
    assert got["memory_total_mb"] == [2048] * 3
    assert got["load1"] == [0.5] * 3 and got["disk_used_mb"] == [2500] * 3
    assert got["vms_running"] == [2, 2, 2]
    assert got["at"] == sorted(got["at"])
    lengths = {len(value) for key, value in got.items() if key != "interval"}
    assert lengths == {3}


@pytest.mark.parametrize("count", [1, 50])
def test_each_series_is_one_query(vm, cluster, count, django_assert_num_queries):
    vm_samples(vm, [(1, 20, i, i) for i in range(count)])
    host = cluster.hosts.first()
    host_samples(host, count)
    with django_assert_num_queries(1):
        assert len(series.vm_series(vm, hours=24)["at"]) == count
    with django_assert_num_queries(1):
        assert len(series.host_series(host, hours=24)["at"]) == count
    with django_assert_num_queries(1):
        series.latest_vm(vm)


def test_latest_vm_has_the_cumulative_counters_and_the_last_rates(vm):
    times = vm_samples(vm, [(5.0, 20.0, 1000, 100), (12.5, 24.3, 1258291, 4096)])
    latest = series.latest_vm(vm)
    assert latest == {
        "at": int(times[-1].timestamp()),
        "cpu_percent": 12.5,
        "memory_mb": 24.3,
        "net_rx_bytes": 1258291,
        "net_tx_bytes": 4096,
        "disk_used_mb": None,
        "net_rx_bps": round((1258291 - 1000) / 30, 1),
        "net_tx_bps": round((4096 - 100) / 30, 1),
    }


def test_latest_vm_is_none_before_any_sample_and_has_no_rate_with_one(vm):
    assert series.latest_vm(vm) is None
    vm_samples(vm, [(None, 20.0, 10, 10)])
    latest = series.latest_vm(vm)
    assert latest["net_rx_bps"] is None and latest["cpu_percent"] is None
