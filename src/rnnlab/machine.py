"""Where a figure was measured: the CPU's model and the SIMD and bf16 instructions it has, so that a
committed benchmark table can say where it ran (figures from different machines are not comparable)."""
import platform
from pathlib import Path

SIMD_FLAGS = ("avx2", "avx512f", "avx512_bf16", "avx512_vnni", "amx_bf16", "amx_tile", "asimd", "sve")


def cpu_flags():
    """The CPU's flags as Linux lists them in /proc/cpuinfo (empty elsewhere)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return set()
    line = next((ln for ln in text.splitlines() if ln.startswith(("flags", "Features"))), "")
    return set(line.split(":", 1)[-1].split())


def cpu_name():
    try:
        text = Path("/proc/cpuinfo").read_text()
        return next(ln.split(":", 1)[1].strip() for ln in text.splitlines() if ln.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or platform.machine() or "unknown"


def describe():
    """{"cpu": model name, "simd": the flags of SIMD_FLAGS it has, "torch_capability": what torch's CPU kernels use}."""
    import torch

    flags = cpu_flags()
    return {"cpu": cpu_name(), "simd": [f for f in SIMD_FLAGS if f in flags],
            "torch_capability": torch.backends.cpu.get_cpu_capability()}
