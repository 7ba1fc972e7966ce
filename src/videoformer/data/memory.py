"""What a DataLoader worker keeps: glibc's malloc raises its mmap threshold each time a
large block is freed, so that later blocks of that size come from the heap, and the heap
keeps them once freed. A worker making TimeSformer 8x224 training samples (5 MB each,
with 10 MB intermediates) then held 90-180 MiB more at its largest than at the 10th
sample (measured, 200 samples). With the threshold fixed at 4 MiB the blocks above it are
mapped and unmapped each time: 12-15 MiB more, at about a tenth of the throughput
(fresh pages fault in; at 1 MiB: 5-7 MiB, the same cost; at 8 MiB and more the growth
comes back). benchmarks/decode.py, memory, measures both."""

from __future__ import annotations

import ctypes
import ctypes.util

M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter
THRESHOLD = 4 << 20


def release_large_blocks(worker_id: int = 0) -> None:
    """A DataLoader ``worker_init_fn``: large blocks go back to the system when freed
    (glibc only; elsewhere nothing changes)."""
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
        if libc is not None and hasattr(libc, "mallopt"):
            libc.mallopt(M_MMAP_THRESHOLD, THRESHOLD)
    except OSError:
        pass
