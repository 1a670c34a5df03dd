"""PeakMemory (moved from benchmarks/bench.py into the package): it sees a known allocation on the CPU."""
import sys

import pytest
import torch

from nsthelpers.deepdives.peak_memory import PeakMemory, memory_method


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="VmHWM is Linux-only")
def test_peak_memory_sees_a_temporary_allocation():
    cpu = torch.device("cpu")
    with PeakMemory(cpu) as big:
        t = torch.ones(64 * 2**20 // 4)            # 64 MiB, touched, then freed inside the block
        del t
    with PeakMemory(cpu) as small:
        torch.ones(16)
    assert big.peak_bytes is not None and small.peak_bytes is not None
    if big.how == "hwm":                           # exact method: the peak is the 64 MiB (allocator slack aside)
        assert 60 * 2**20 <= big.peak_bytes <= 100 * 2**20
        assert small.peak_bytes < 8 * 2**20
    else:                                          # ru_maxrss is a lower bound
        assert big.peak_bytes >= 0
    assert "RSS" in memory_method(cpu) or "ru_maxrss" in memory_method(cpu)
