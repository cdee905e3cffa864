"""The CPUs a process may really use under a cgroup CPU quota, read from a fake filesystem root."""

from __future__ import annotations

import math
import os
from pathlib import Path

import pytest

from qpbench.runtime import backends, cpu_quota
from qpbench.runtime.cpu_quota import V1, V2, quota_summary, quota_threads, read_quota, usable_cpus

# A cgroup v2 host: the unified hierarchy at /sys/fs/cgroup, this process in a docker scope.
V2_MOUNTINFO = ("24 1 0:22 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate\n"
                "25 1 0:23 / /proc rw,nosuid - proc proc rw\n")
V2_CGROUP = "0::/system.slice/docker-abc.scope\n"
SCOPE = "sys/fs/cgroup/system.slice/docker-abc.scope"
# A cgroup v1 host (and the hybrid layout this repository's CI runs on: cgroup2 at .../unified, no cpu controller).
V1_MOUNTINFO = ("32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime shared:7 - cgroup cgroup rw,cpu,cpuacct\n"
                "34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset\n"
                "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n")
V1_CGROUP = "4:memory:/docker/abc\n3:cpuset:/docker/abc\n2:cpu,cpuacct:/docker/abc\n0::/docker/abc\n"


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def v2_root(tmp_path: Path, scope: str = "max 100000\n", **more: str) -> Path:
    return write(tmp_path, {"proc/self/mountinfo": V2_MOUNTINFO, "proc/self/cgroup": V2_CGROUP,
                            f"{SCOPE}/cpu.max": scope, **more})


def v1_root(tmp_path: Path, quota: str, period: str = "100000\n") -> Path:
    cgroup = "sys/fs/cgroup/cpu,cpuacct/docker/abc"
    return write(tmp_path, {"proc/self/mountinfo": V1_MOUNTINFO, "proc/self/cgroup": V1_CGROUP,
                            f"{cgroup}/cpu.cfs_quota_us": quota, f"{cgroup}/cpu.cfs_period_us": period,
                            "sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us": "-1\n",
                            "sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us": "100000\n"})


@pytest.fixture
def sixteen_cpus(monkeypatch: pytest.MonkeyPatch) -> None:
    """A 16-CPU affinity, whatever this machine has."""
    monkeypatch.setattr(cpu_quota.os, "sched_getaffinity", lambda pid: set(range(16)), raising=False)


# ------------------------------------------------------------------ cgroup v2


def test_v2_two_cpus_of_quota_give_two(tmp_path):
    root = v2_root(tmp_path, "200000 100000\n")
    assert read_quota(root) == cpu_quota.CpuQuota(V2, 200000, 100000)
    assert usable_cpus(root, affinity=16) == 2


def test_v2_max_means_the_affinity(tmp_path):
    root = v2_root(tmp_path, "max 100000\n")
    assert read_quota(root) is None
    assert usable_cpus(root, affinity=16) == 16


def test_v2_a_parent_with_a_smaller_limit_wins(tmp_path):
    root = v2_root(tmp_path, "400000 100000\n", **{"sys/fs/cgroup/system.slice/cpu.max": "150000 100000\n"})
    assert read_quota(root).cpus == 1.5
    assert usable_cpus(root, affinity=16) == 2


def test_a_quota_above_the_affinity_leaves_the_affinity(tmp_path):
    assert usable_cpus(v2_root(tmp_path, "800000 100000\n"), affinity=4) == 4


@pytest.mark.parametrize("line, threads", [("150000 100000", 2), ("50000 100000", 1), ("1000 100000", 1),
                                          ("250000 100000", 3), ("300000 100000", 3)])
def test_a_fractional_quota_rounds_up_never_to_zero(tmp_path, line, threads):
    assert usable_cpus(v2_root(tmp_path, line + "\n"), affinity=16) == threads


def test_a_namespaced_container_reads_its_limit_at_the_mount_top(tmp_path):
    # cgroupns (docker's default on v2): /proc/self/cgroup says "/" and the mount's top is the container's cgroup
    root = write(tmp_path, {"proc/self/mountinfo": V2_MOUNTINFO, "proc/self/cgroup": "0::/\n",
                            "sys/fs/cgroup/cpu.max": "200000 100000\n"})
    assert usable_cpus(root, affinity=16) == 2


def test_a_cgroup_path_cannot_walk_out_of_the_mount(tmp_path):
    root = write(tmp_path, {"proc/self/mountinfo": V2_MOUNTINFO, "proc/self/cgroup": "0::/../../etc\n",
                            "etc/cpu.max": "100000 100000\n"})
    assert read_quota(root) is None


# ------------------------------------------------------------------ cgroup v1


def test_v1_cfs_quota(tmp_path):
    root = v1_root(tmp_path, "300000\n", "100000\n")
    assert read_quota(root) == cpu_quota.CpuQuota(V1, 300000, 100000)
    assert usable_cpus(root, affinity=16) == 3


def test_v1_minus_one_is_no_quota(tmp_path):
    assert read_quota(v1_root(tmp_path, "-1\n")) is None
    assert usable_cpus(v1_root(tmp_path, "-1\n"), affinity=16) == 16


def test_v1_mount_showing_the_container_cgroup_at_its_top(tmp_path):
    # docker v1 without cgroupns: the mount's root is /docker/abc, the path in /proc/self/cgroup the same
    mountinfo = "32 31 0:29 /docker/abc /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu,cpuacct\n"
    root = write(tmp_path, {"proc/self/mountinfo": mountinfo, "proc/self/cgroup": V1_CGROUP,
                            "sys/fs/cgroup/cpu/cpu.cfs_quota_us": "200000\n",
                            "sys/fs/cgroup/cpu/cpu.cfs_period_us": "100000\n"})
    assert usable_cpus(root, affinity=16) == 2


def test_without_mountinfo_the_usual_places_are_read(tmp_path):
    root = write(tmp_path, {"proc/self/cgroup": V1_CGROUP,
                            "sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_quota_us": "100000\n",
                            "sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_period_us": "100000\n"})
    assert usable_cpus(root, affinity=16) == 1


# ------------------------------------------------------------------ nothing readable: no quota, no exception


@pytest.mark.parametrize("files", [
    {},
    {"proc/self/mountinfo": "garbage\n\n- - -\n", "proc/self/cgroup": "nonsense\n::\n"},
    {"proc/self/mountinfo": V2_MOUNTINFO, "proc/self/cgroup": V2_CGROUP, f"{SCOPE}/cpu.max": "lots 100000\n"},
    {"proc/self/mountinfo": V2_MOUNTINFO, "proc/self/cgroup": V2_CGROUP, f"{SCOPE}/cpu.max": "200000 0\n"},
    {"proc/self/mountinfo": V2_MOUNTINFO, "proc/self/cgroup": V2_CGROUP, f"{SCOPE}/cpu.max": ""},
    {"proc/self/mountinfo": V1_MOUNTINFO, "proc/self/cgroup": V1_CGROUP,
     "sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_quota_us": "200000\n"},  # no period
])
def test_missing_or_garbage_files_mean_no_quota(tmp_path, files):
    root = write(tmp_path, files)
    assert read_quota(root) is None
    assert usable_cpus(root, affinity=5) == 5


def test_undecodable_and_unreadable_files_mean_no_quota(tmp_path):
    root = v2_root(tmp_path)
    (root / SCOPE / "cpu.max").write_bytes(b"\xff\xfe 100000")
    (root / "proc/self/cgroup").unlink()
    (root / "proc/self/cgroup").mkdir()  # reading a directory raises IsADirectoryError
    assert read_quota(root) is None


def test_an_unexpected_error_means_no_quota(tmp_path, monkeypatch):
    monkeypatch.setattr(cpu_quota, "cgroup_mounts", lambda root: 1 / 0)
    assert read_quota(v2_root(tmp_path, "200000 100000\n")) is None


# ------------------------------------------------------------------ the callers


def test_thread_candidates_are_capped_by_the_quota(tmp_path, sixteen_cpus):
    from qpbench.optimize.threads import candidate_thread_counts

    assert candidate_thread_counts(root=v2_root(tmp_path, "300000 100000\n")) == [1, 2, 3]
    assert candidate_thread_counts(root=v2_root(tmp_path, "max 100000\n")) == [1, 2, 4, 8, 16]
    assert candidate_thread_counts(6, root=v2_root(tmp_path, "100000 100000\n")) == [1, 2, 4, 6]  # a given count stands


def test_quota_threads_only_where_the_quota_caps_the_affinity(tmp_path, sixteen_cpus):
    assert quota_threads(v2_root(tmp_path, "200000 100000\n")) == 2
    assert quota_threads(v2_root(tmp_path, "3200000 100000\n")) is None
    assert quota_threads(v2_root(tmp_path, "max 100000\n")) is None


def test_the_summary_for_the_fingerprint_matches_the_schema(tmp_path, sixteen_cpus):
    import jsonschema

    from qpbench.record import schema

    capped = quota_summary(v2_root(tmp_path, "150000 100000\n"))
    assert capped == {"source": V2, "cpus": 1.5, "usable_cpus": 2}
    assert quota_summary(v2_root(tmp_path, "max 100000\n")) == {"source": None, "cpus": None, "usable_cpus": 16}
    fingerprint_schema = {"$ref": "#/$defs/CpuQuota", "$defs": schema()["$defs"]}
    jsonschema.validate(capped, fingerprint_schema)
    jsonschema.validate(quota_summary(v2_root(tmp_path, "max 100000\n")), fingerprint_schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"source": None, "cpus": None, "usable_cpus": 0}, fingerprint_schema)


def test_the_fingerprint_and_info_show_the_quota(monkeypatch, capsys):
    from qpbench import cli, system

    monkeypatch.setattr(system, "quota_summary", lambda: {"source": V2, "cpus": 1.5, "usable_cpus": 2})
    assert system.fingerprint()["cpu_quota"] == {"source": V2, "cpus": 1.5, "usable_cpus": 2}
    assert cli.quota_line({"source": V2, "cpus": 1.5, "usable_cpus": 2}) == f"1.5 CPUs ({V2}): 2 usable CPUs"
    assert cli.quota_line({"source": None, "cpus": None, "usable_cpus": 8}) == "none (8 usable CPUs)"
    assert cli.usable_cores({"cpu_quota": {"usable_cpus": 2}, "cpu_affinity": list(range(16)), "cores_logical": 16}) == 2
    assert cli.usable_cores({"cpu_affinity": list(range(16)), "cores_logical": 16}) == 16  # a record from before


class FakeTorch:
    def __init__(self, threads: int) -> None:
        self.threads = threads

    def get_num_threads(self) -> int:
        return self.threads

    def set_num_threads(self, n: int) -> None:
        self.threads = n


@pytest.mark.parametrize("cap, before, after", [(None, 16, 16), (2, 16, 2), (4, 3, 3)])
def test_torch_backends_default_threads_are_capped_by_the_quota(monkeypatch, cap, before, after):
    monkeypatch.setattr(backends, "quota_threads", lambda: cap)
    torch = FakeTorch(before)
    backends._set_torch_threads(torch, None)
    assert torch.threads == after  # a smaller count the user set (OMP_NUM_THREADS) stands
    backends._set_torch_threads(torch, 7)
    assert torch.threads == 7  # a given count is used as given


def test_onnxruntime_default_threads_follow_the_quota(monkeypatch, tmp_path):
    from tests.test_platform import tiny_onnx

    path = tiny_onnx(tmp_path / "model.onnx")
    monkeypatch.setattr(backends, "quota_threads", lambda: None)
    assert backends.OnnxRuntimeBackend.load(path).intra_op_threads == 0  # no quota: ONNX Runtime's own default
    monkeypatch.setattr(backends, "quota_threads", lambda: 2)
    assert backends.OnnxRuntimeBackend.load(path).intra_op_threads == 2
    assert backends.OnnxRuntimeBackend.load(path, threads=1).intra_op_threads == 1


def test_this_machine_reads_without_error():
    summary = quota_summary()
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    assert (summary["source"] is None) == (summary["cpus"] is None)
    # The usable count is the affinity, capped by the quota where one is read (rounded up).
    expected = affinity if summary["cpus"] is None else min(affinity, max(1, math.ceil(summary["cpus"])))
    assert summary["usable_cpus"] == expected


def test_the_deployment_package_copies_the_module():
    from qpbench.deploy.contents import RUNTIME_FILES

    assert ("runtime/cpu_quota.py", "cpu_quota.py") in RUNTIME_FILES


def test_a_quota_that_caps_the_affinity_changes_the_build_cache_key(monkeypatch):
    from qpbench.variants import build_cache

    monkeypatch.setattr(build_cache, "quota_threads", lambda: None)
    without = build_cache.cpu_key()
    assert "cpu_quota_threads" not in without  # keys made without a quota stand
    monkeypatch.setattr(build_cache, "quota_threads", lambda: 2)
    assert build_cache.cpu_key() == {**without, "cpu_quota_threads": 2}


def test_the_module_is_standard_library_only():
    source = Path(cpu_quota.__file__).read_text()
    imports = {line.split()[1].split(".")[0] for line in source.splitlines() if line.startswith(("import ", "from "))}
    assert imports <= {"__future__", "os", "re", "dataclasses", "pathlib", "typing"}
