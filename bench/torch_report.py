"""What both PyTorch benchmark sides report about their process: the BLAS and kernels it runs, its peak memory."""
import ctypes

import torch


def kernels():
    """Which BLAS this process loaded and, for OpenBLAS, which core's kernels it runs."""
    blas = "?"
    with open("/proc/self/maps") as f:
        for line in f:
            if "libblas" in line or "openblas" in line:
                blas = line.split()[-1]
                break
    core = "-"
    try:
        lib = ctypes.CDLL(blas)
        lib.openblas_get_corename.restype = ctypes.c_char_p
        core = lib.openblas_get_corename().decode()
    except (OSError, AttributeError):
        pass  # not OpenBLAS (e.g. the reference BLAS)
    capability = "?"
    for line in torch.__config__.show().splitlines():
        if "CPU capability usage:" in line:
            capability = line.split(":", 1)[1].strip()
    return blas, core, capability


def peak_rss_kib():
    # VmHWM, not getrusage's ru_maxrss: the latter survives exec and reports the launching JVM's peak.
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return -1
