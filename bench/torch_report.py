"""What both PyTorch benchmark sides share: the split step, how a step is timed, and what they report about their process
(the BLAS and kernels it runs, its peak memory)."""
import ctypes
import time

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


def rates(step, batches, a, items_per_step):
    """Items per second of each of a.repeats timed runs of a.steps steps, after at least a.warmup steps and
    a.warmup_seconds of untimed ones, as the Java side times."""
    i, warm_end = 0, time.perf_counter() + a.warmup_seconds
    while i < a.warmup or time.perf_counter() < warm_end:
        step(*batches[i % len(batches)])
        i += 1
    out = []
    for _ in range(a.repeats):
        t0 = time.perf_counter()
        for i in range(a.steps):
            step(*batches[i % len(batches)])
        out.append(a.steps * items_per_step / (time.perf_counter() - t0))
    return out


def report():
    """The process's lines after the rates: kernels, torch version and threads, peak memory."""
    blas, core, capability = kernels()
    print("kernels blas", blas, "openblas_core", core, "cpu_capability", capability, flush=True)
    print("torch", torch.__version__, "threads", torch.get_num_threads(), flush=True)
    print("peak_rss_kib", peak_rss_kib(), flush=True)


def split_step(client, server, loss):
    """One split-learning step with Adam on each part: the client's forward, the server's loss on the cut activations
    and its step, the gradient at the cut back through the client, the client's step."""
    opt_c = torch.optim.Adam(client.parameters(), lr=1e-3)
    opt_s = torch.optim.Adam(server.parameters(), lr=1e-3)

    def step(x, y):
        opt_c.zero_grad(set_to_none=False)
        opt_s.zero_grad(set_to_none=False)
        cut = client(x)
        smashed = cut.detach().requires_grad_()  # what crosses the wire
        loss(server(smashed), y).backward()
        opt_s.step()
        cut.backward(smashed.grad)  # the gradient sent back to the client
        opt_c.step()
    return step
