"""A CPU's identity: vendor, family and model beside the brand string, in the fingerprint, in
baseline names ({cpu}) and in the comparison's "another CPU" check."""

from __future__ import annotations

import copy

import numpy as np

from qpbench.compare.baseline import check_name, cpu_slug, for_cpu
from qpbench.compare.runs import compare_runs
from qpbench.compare.differences import cpu_differences, fingerprint_differences
from qpbench.compare.comparison import NOT_COMPARABLE
from qpbench.system import cpu_info, describe_cpu, identity_fields, parse_proc_cpuinfo
from tests.test_compare import FP, run_record

AVX512_BF16 = {"avx2": True, "avx512f": True, "avx512_vnni": True, "avx512vnni": True, "avx512_bf16": True,
               "amx_tile": False, "amx_int8": False}
# Two EPYCs as a VM shows them: one brand string, one ISA; Zen 4 (Genoa) and Zen 5 (Turin).
ZEN4 = {"brand": "AMD EPYC", "vendor_id": "AuthenticAMD", "family": 25, "model": 17, "stepping": 1,
        "isa": AVX512_BF16}
ZEN5 = {**ZEN4, "family": 26, "model": 2, "stepping": 0}

PROC_CPUINFO = """processor\t: 0
vendor_id\t: AuthenticAMD
cpu family\t: 25
model\t\t: 17
model name\t: AMD EPYC
stepping\t: 1
flags\t\t: fpu avx2

processor\t: 1
vendor_id\t: AuthenticAMD
cpu family\t: 99
model\t\t: 99
"""


def test_same_brand_and_isa_different_model_get_different_slugs():
    assert cpu_slug(ZEN4) == "amd-epyc-f25-m17-avx512-vnni-bf16"
    assert cpu_slug(ZEN5) == "amd-epyc-f26-m2-avx512-vnni-bf16"
    check_name(for_cpu("compact-quick-{cpu}", ZEN4))  # a safe file name


def test_an_old_fingerprint_without_family_or_model_still_slugs_as_before():
    old = {"brand": "AMD EPYC 7B13", "isa": {"avx2": True, "avx512f": False}}
    assert cpu_slug(old) == "amd-epyc-7b13-avx2"
    assert cpu_slug({"brand": "AMD EPYC", "family": 25, "isa": AVX512_BF16}) == "amd-epyc-avx512-vnni-bf16"
    assert cpu_slug({}) == "unknown-base"
    assert cpu_slug({"brand": None, "vendor_id": None, "family": None, "model": None, "isa": None}) == "unknown-base"


def test_the_vendor_leads_a_brand_that_does_not_name_it():
    kvm = {"brand": "Common KVM processor", "vendor_id": "GenuineIntel", "family": 6, "model": 85,
           "isa": {"avx512f": True, "avx512_vnni": True}}
    assert cpu_slug(kvm) == "intel-common-kvm-processor-f6-m85-avx512-vnni"
    xeon = {**kvm, "brand": "Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz"}
    assert cpu_slug(xeon) == "intel-xeon-platinum-8375c-cpu-2-90ghz-f6-m85-avx512-vnni"
    odd = {**kvm, "vendor_id": "Some/Vendor ../x"}
    check_name(cpu_slug(odd))


def test_amx_stays_amx_and_bf16_without_vnni_is_not_a_tier():
    assert cpu_slug({**ZEN4, "isa": {**AVX512_BF16, "amx_int8": True}}).endswith("-amx")
    assert cpu_slug({**ZEN4, "isa": {"avx512f": True, "avx512_bf16": True}}).endswith("-avx512")


def test_proc_cpuinfo_gives_the_first_processors_fields():
    fields = parse_proc_cpuinfo(PROC_CPUINFO)
    assert fields["vendor_id"] == "AuthenticAMD" and fields["cpu family"] == "25" and fields["model"] == "17"
    assert fields["model name"] == "AMD EPYC" and fields["stepping"] == "1"


def test_identity_comes_from_py_cpuinfo_else_proc_cpuinfo_else_none():
    from_cpuinfo = {"vendor_id_raw": "GenuineIntel", "family": 6, "model": 106, "stepping": 6}
    calls = []
    assert identity_fields(from_cpuinfo, lambda: calls.append(1) or {}) == {
        "vendor_id": "GenuineIntel", "family": 6, "model": 106, "stepping": 6}
    assert not calls  # /proc/cpuinfo is read only when py-cpuinfo leaves something out
    assert identity_fields({}, lambda: parse_proc_cpuinfo(PROC_CPUINFO)) == {
        "vendor_id": "AuthenticAMD", "family": 25, "model": 17, "stepping": 1}
    assert identity_fields({}, dict) == {"vendor_id": None, "family": None, "model": None, "stepping": None}
    garbled = identity_fields({"family": "x", "model": ""}, lambda: {"model": "?"})
    assert garbled["family"] is None and garbled["model"] is None


def test_cpu_info_keeps_its_keys_and_adds_the_identity():
    cpu = cpu_info()
    assert {"brand", "arch", "hz_advertised", "isa", "vendor_id", "family", "model", "stepping"} <= set(cpu)
    assert all(cpu[k] is None or isinstance(cpu[k], int) for k in ("family", "model", "stepping"))
    assert cpu_slug(cpu) == cpu_slug(copy.deepcopy(cpu))


def test_describe_cpu():
    assert describe_cpu(ZEN4) == "AMD EPYC, AuthenticAMD family 25 model 17"
    assert describe_cpu({"brand": "AMD EPYC 7B13"}) == "AMD EPYC 7B13"


def with_cpu(cpu: dict) -> dict:
    fp = copy.deepcopy(FP)
    fp["cpu"] = {"arch": "x86_64", **copy.deepcopy(cpu)}
    return fp


def test_the_comparison_tells_two_models_of_one_brand_apart():
    differences = fingerprint_differences(with_cpu(ZEN4), with_cpu(ZEN5))
    assert differences == ["CPU model: 'AuthenticAMD family 25 model 17' vs 'AuthenticAMD family 26 model 2'"]
    assert cpu_differences(differences) == differences
    rng = np.random.default_rng(3)
    comparison = compare_runs(run_record(rng, fp=with_cpu(ZEN4)), run_record(rng, fp=with_cpu(ZEN5)))
    speed = next(c for c in comparison.changes if c.metric == "speed_ratio_b1")
    assert speed.verdict == NOT_COMPARABLE and speed.reason.startswith("another CPU (CPU model:")
    # Another stepping of one model is the same CPU for a baseline (as for its name).
    assert fingerprint_differences(with_cpu(ZEN4), with_cpu({**ZEN4, "stepping": 2})) == []


def test_a_fingerprint_from_before_the_identity_is_judged_by_brand_and_isa():
    old = {k: v for k, v in ZEN4.items() if k not in ("vendor_id", "family", "model", "stepping")}
    assert fingerprint_differences(with_cpu(old), with_cpu(ZEN4)) == []
    assert cpu_differences(fingerprint_differences(with_cpu(old), with_cpu({**ZEN5, "brand": "AMD EPYC 9005"})))
