"""Which device a command runs on: `--device auto|cpu|cuda|mps`; auto takes CUDA, then Apple's MPS, then the CPU.
(torch is imported when a device is picked, so that the command line starts without it.)"""
from rnnlab.errors import RnnlabError

DEVICES = ("auto", "cpu", "cuda", "mps")
PRECISIONS = ("auto", "fp32", "bf16")
BF16_FLAGS = ("avx512_bf16", "amx_bf16")     # CPUs that compute bf16 natively (Intel Cooper Lake+, AMD Zen 4+)


def mps_available():
    import torch
    return getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()


def pick_device(name):
    """The torch device name for `name`; RnnlabError if that device is not here."""
    import torch

    if name not in DEVICES:
        raise RnnlabError(f"--device {name}: not one of {', '.join(DEVICES)}")
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "mps" if mps_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise RnnlabError("--device cuda: no CUDA device is available")
    if name == "mps" and not mps_available():
        raise RnnlabError("--device mps: no Apple MPS device is available")
    return name


def bf16_native(device):
    """Whether `device` computes bfloat16 natively; where it does not (an AVX2-only CPU), bf16 would be
    emulated, slower than float32."""
    import torch

    from rnnlab.machine import cpu_flags

    if device.startswith("cuda"):
        return torch.cuda.is_bf16_supported()
    return device == "cpu" and bool(set(BF16_FLAGS) & cpu_flags())


def pick_precision(name, device):
    """fp32 or bf16 for `--precision name` on `device`: auto takes bf16 where it is native."""
    if name not in PRECISIONS:
        raise RnnlabError(f"--precision {name}: not one of {', '.join(PRECISIONS)}")
    if name == "auto":
        return "bf16" if bf16_native(device) else "fp32"
    return name

