package org.fslspark.bench;

import org.fslspark.model.CrossEntropy;
import org.fslspark.model.ModelSpec;
import org.fslspark.model.ModelZoo;
import org.fslspark.model.Natives;
import org.fslspark.model.Network;
import org.fslspark.model.Optimizer;
import org.fslspark.model.SplitModel;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.Adam;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.BufferedReader;
import java.io.File;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.Callable;

/**
 * Training-step throughput of the project's layers against PyTorch on the same machine: the split
 * step, the unsplit step and a forward-only evaluation pass per zoo model. Prints figures, asserts
 * nothing. Both sides use the same batch, warm-up, steps per repeat and repeats; figures are
 * medians over repeats with min and max. The sides take turns model by model (ours, then PyTorch's), so
 * the two figures of a row are timed minutes apart rather than a whole benchmark apart: a VM's speed drifts.
 */
@Command(name = "step", mixinStandardHelpOptions = true,
        description = "Samples/s of the split, unsplit and eval steps, ours vs PyTorch, with GFLOP/s and peak memory.")
public final class StepBenchmark implements Callable<Integer> {
    @Option(names = "--models", split = ",", description = "Zoo models (default: ${DEFAULT-VALUE}).")
    List<String> models = List.of("simple_conv", "fmnist_cnn", "resnet20");
    @Option(names = "--batch", description = "Minibatch size (default: ${DEFAULT-VALUE}).")
    int batch = 64;
    @Option(names = "--repeats", description = "Timed repeats per figure (default: ${DEFAULT-VALUE}).")
    int repeats = 7;
    @Option(names = "--steps", description = "Steps per timed repeat (default: ${DEFAULT-VALUE}).")
    int steps = 10;
    @Option(names = "--warmup", description = "Untimed steps before timing, at least (default: ${DEFAULT-VALUE}).")
    int warmup = 5;
    @Option(names = "--warmup-seconds",
            description = "Untimed seconds of steps before timing, at least (default: ${DEFAULT-VALUE}).")
    double warmupSeconds = 5;
    @Option(names = "--threads", description = "PyTorch threads (default: ${DEFAULT-VALUE}).")
    int threads = 2;
    @Option(names = "--python", description = "Python with torch (default: ${DEFAULT-VALUE}).")
    String python = "/usr/bin/python3";
    @Option(names = "--torch-script", description = "The PyTorch side (default: bench/torch_step.py under the project).")
    Path torchScript;
    @Option(names = "--no-torch", description = "Skip the PyTorch side.")
    boolean noTorch;
    @Option(names = "--torch-blas", description = "BLAS for the PyTorch side: auto (an installed OpenBLAS, else the system's),"
            + " system, or a directory holding libblas.so.3 (default: ${DEFAULT-VALUE}).")
    String torchBlas = "auto";
    @Option(names = "--fma-per-cycle", description = "512-bit FMA instructions per cycle per core for the peak (default: ${DEFAULT-VALUE}).")
    int fmaPerCycle = 2;

    private static final String[] MODES = {"split", "unsplit", "eval"};

    /** Median, min and max of per-repeat rates. */
    record Stats(double median, double min, double max) {
        static Stats of(double[] values) {
            double[] v = values.clone();
            Arrays.sort(v);
            double med = v.length % 2 == 1 ? v[v.length / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
            return new Stats(med, v[0], v[v.length - 1]);
        }

        String format() {
            return String.format("%8.1f [%7.1f..%7.1f]", median, min, max);
        }
    }

    public static void main(String[] args) {
        int code = new CommandLine(new StepBenchmark()).execute(args);
        System.exit(code);
    }

    @Override
    public Integer call() throws Exception {
        loadBefore = loadAverage();
        Map<String, Map<String, Stats>> ours = new LinkedHashMap<>();
        Map<String, Map<String, Stats>> torch = new LinkedHashMap<>();
        Map<String, Long> macs = new LinkedHashMap<>();
        for (String name : models) {
            ModelSpec spec = new ModelSpec(name, new long[]{1, 28, 28}, 10, 0);
            macs.put(name, ModelZoo.full(spec, 1).macsPerSample());
            ours.put(name, runOurs(spec));
            if (!noTorch) {
                torch.putAll(runTorch(name));
            }
        }
        long jvmPeak = vmHwmKiB();
        report(ours, torch, macs, jvmPeak);
        return 0;
    }

    private Map<String, Stats> runOurs(ModelSpec spec) {
        Random rng = new Random(7);
        List<INDArray> xs = new ArrayList<>();
        List<int[]> ys = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            xs.add(Nd4j.rand(DataType.FLOAT, batch, 1, 28, 28));
            ys.add(rng.ints(batch, 0, 10).toArray());
        }
        SplitModel split = ModelZoo.split(spec, 1);
        Network full = ModelZoo.full(spec, 1);
        Optimizer clientOpt = new Optimizer(new Adam(1e-3), split.client().numParams());
        Optimizer serverOpt = new Optimizer(new Adam(1e-3), split.server().numParams());
        Optimizer fullOpt = new Optimizer(new Adam(1e-3), full.numParams());
        Map<String, Stats> result = new LinkedHashMap<>();
        for (String mode : MODES) {
            StepFn fn = switch (mode) {
                case "split" -> (x, y) -> {
                    // What a client and the server do per minibatch in SL; the cut crosses no wire here.
                    INDArray cut = split.client().forward(x);
                    CrossEntropy.Result r = CrossEntropy.evaluate(split.server().forward(cut), y, true);
                    INDArray gradCut = split.server().backward(r.gradient());
                    serverOpt.step(split.server());
                    split.client().backward(gradCut, false);
                    clientOpt.step(split.client());
                };
                case "unsplit" -> (x, y) -> {
                    CrossEntropy.Result r = CrossEntropy.evaluate(full.forward(x), y, true);
                    full.backward(r.gradient(), false);
                    fullOpt.step(full);
                };
                default -> (x, y) -> CrossEntropy.evaluate(full.predict(x), y, false);
            };
            result.put(mode, Stats.of(rates(fn, xs, ys, warmup, warmupSeconds, repeats, steps, batch)));
            System.err.printf("ours  %-12s %-8s %s samples/s%n", spec.name(), mode, result.get(mode).format());
        }
        return result;
    }

    /** One training or evaluation step on a minibatch: inputs (images, token ids) and their labels. */
    @FunctionalInterface
    interface StepFn {
        void run(INDArray x, int[] labels);
    }

    /**
     * Items per second of each of {@code repeats} timed runs of {@code steps} steps, cycling through the minibatches,
     * after at least {@code warmup} steps and {@code warmupSeconds} of untimed ones: the first mode timed in a JVM pays
     * the JIT's compilation and oneDNN's primitive creation, which a few steps did not cover (bench lm-step's split read
     * 0.83 x unsplit after three).
     */
    static double[] rates(StepFn fn, List<INDArray> xs, List<int[]> ys, int warmup, double warmupSeconds, int repeats,
                          int steps, double itemsPerStep) {
        long warmEnd = System.nanoTime() + (long) (warmupSeconds * 1e9);
        for (int i = 0; i < warmup || System.nanoTime() < warmEnd; i++) {
            fn.run(xs.get(i % xs.size()), ys.get(i % ys.size()));
        }
        double[] rates = new double[repeats];
        for (int r = 0; r < repeats; r++) {
            long t0 = System.nanoTime();
            for (int i = 0; i < steps; i++) {
                fn.run(xs.get(i % xs.size()), ys.get(i % ys.size()));
            }
            rates[r] = steps * itemsPerStep / ((System.nanoTime() - t0) / 1e9);
        }
        return rates;
    }

    private Map<String, Map<String, Stats>> runTorch(String model) throws IOException, InterruptedException {
        Path script = torchScript != null ? torchScript : locateScript();
        List<String> cmd = List.of(python, script.toString(), "--models", model,
                "--batch", "" + batch, "--steps", "" + steps, "--warmup", "" + warmup, "--warmup-seconds", "" + warmupSeconds,
                "--repeats", "" + repeats, "--threads", "" + threads);
        Process p = TorchSide.process(cmd, torchBlas).redirectError(ProcessBuilder.Redirect.INHERIT).start();
        Map<String, Map<String, Stats>> result = new LinkedHashMap<>();
        try (BufferedReader in = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
            for (String line; (line = in.readLine()) != null; ) {
                String[] w = line.trim().split("\\s+");
                switch (w[0]) {
                    case "peak_rss_kib" -> torchPeakKiB = Math.max(torchPeakKiB, Long.parseLong(w[1]));
                    case "torch" -> torchVersion = w[1];
                    case "kernels" -> torchKernels = line.substring("kernels ".length());
                    case "rate" -> {
                        double[] rates = new double[w.length - 3];
                        for (int i = 0; i < rates.length; i++) {
                            rates[i] = Double.parseDouble(w[i + 3]);
                        }
                        Stats s = Stats.of(rates);
                        result.computeIfAbsent(w[1], k -> new LinkedHashMap<>()).put(w[2], s);
                        System.err.printf("torch %-12s %-8s %s samples/s%n", w[1], w[2], s.format());
                    }
                    default -> System.err.println("torch_step.py: " + line);
                }
            }
        }
        if (p.waitFor() != 0) {
            throw new IllegalStateException("PyTorch side failed: " + String.join(" ", cmd));
        }
        return result;
    }

    private long torchPeakKiB = -1;
    private String torchVersion = "?";
    private String torchKernels = "?";

    private static Path locateScript() {
        for (String base : new String[]{System.getProperty("fsl.home", "."), System.getenv().getOrDefault("FSL_HOME", ".")}) {
            Path p = Path.of(base, "bench", "torch_step.py");
            if (Files.isRegularFile(p)) {
                return p;
            }
        }
        throw new IllegalStateException("bench/torch_step.py not found; run from the project directory or pass --torch-script");
    }

    private void report(Map<String, Map<String, Stats>> ours, Map<String, Map<String, Stats>> torch,
                        Map<String, Long> macs, long jvmPeakKiB) {
        int cores = Runtime.getRuntime().availableProcessors();
        double mhz = cpuMhz();
        int flopsPerCycle = 16 * 2 * fmaPerCycle; // 16 fp32 lanes per 512-bit vector, 2 FLOPs per FMA
        double peak = cores * mhz / 1000.0 * flopsPerCycle;
        System.out.println();
        System.out.printf("StepBenchmark: batch %d, at least %d warm-up steps and %.0f s per mode, %d repeats x %d steps; "
                + "samples/s as median [min..max]%n", batch, warmup, warmupSeconds, repeats, steps);
        System.out.printf("ND4J backend %s, libnd4j %s (oneDNN: %s); PyTorch %s, %d threads%n",
                Nd4j.getBackend().getClass().getSimpleName(), Natives.libnd4jPath().replaceAll(".*/bindings/", ""),
                Natives.oneDnn(), torchVersion, threads);
        if (!noTorch) {
            System.out.printf("PyTorch side: %s %s; %s%n", TorchSide.describe(torchBlas), python, torchKernels);
        }
        System.out.printf("Load average (/proc/loadavg) before: %s, after: %s; other processes on the cores skew both sides%n",
                loadBefore, loadAverage());
        System.out.println("FLOPs: forward = 2 x Network.macsPerSample() (conv and dense multiply-adds only);"
                + " a training step (split or unsplit) = 3 x forward; eval = forward.");
        System.out.printf("Peak: %d cores x %.0f MHz (cpu MHz in /proc/cpuinfo) x %d FLOP/cycle"
                        + " (%d AVX-512 FMA/cycle x 16 fp32 lanes x 2) = %.1f GFLOP/s fp32 at that clock"
                        + " (a VM's nominal one; boosting cores run faster: docs/PERFORMANCE.md)%n",
                cores, mhz, flopsPerCycle, fmaPerCycle, peak);
        System.out.println();
        System.out.printf("%-12s %-8s %-28s %-28s %7s %9s %9s%n", "model", "step", "ours samples/s", "torch samples/s",
                "ours/pt", "ours GF/s", "pt GF/s");
        for (String model : ours.keySet()) {
            double fwdFlops = 2.0 * macs.get(model);
            for (String mode : MODES) {
                Stats o = ours.get(model).get(mode);
                Stats t = torch.getOrDefault(model, Map.of()).get(mode);
                double flops = mode.equals("eval") ? fwdFlops : 3 * fwdFlops;
                System.out.printf("%-12s %-8s %-28s %-28s %7s %9.1f %9s%n", model, mode, o.format(),
                        t == null ? "-" : t.format(), t == null ? "-" : String.format("%.2f", o.median / t.median),
                        o.median * flops / 1e9, t == null ? "-" : String.format("%.1f", t.median * flops / 1e9));
            }
            System.out.printf("%-12s MFLOP/sample: forward %.2f, training step %.2f%n", model, fwdFlops / 1e6, 3 * fwdFlops / 1e6);
        }
        System.out.println();
        System.out.printf("Peak resident memory (VmHWM): JVM %.0f MiB (heap max %d MiB, javacpp maxbytes %s, maxphysicalbytes %s)%s%n",
                jvmPeakKiB / 1024.0, Runtime.getRuntime().maxMemory() >> 20,
                System.getProperty("org.bytedeco.javacpp.maxbytes", "default"),
                System.getProperty("org.bytedeco.javacpp.maxphysicalbytes", "default"),
                torchPeakKiB > 0 ? String.format("; PyTorch process (one per model) at most %.0f MiB", torchPeakKiB / 1024.0) : "");
    }

    private String loadBefore = "?";

    static String loadAverage() {
        try {
            String[] f = Files.readString(Path.of("/proc/loadavg")).trim().split("\\s+");
            return f[0] + " " + f[1] + " " + f[2];
        } catch (IOException e) {
            return "?";
        }
    }

    static long vmHwmKiB() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("VmHWM:")) {
                    return Long.parseLong(line.replaceAll("[^0-9]", ""));
                }
            }
        } catch (IOException e) {
            // not Linux: reported as unknown
        }
        return -1;
    }

    static double cpuMhz() {
        try {
            for (String line : Files.readAllLines(new File("/proc/cpuinfo").toPath())) {
                if (line.startsWith("cpu MHz")) {
                    return Double.parseDouble(line.substring(line.indexOf(':') + 1).trim());
                }
            }
        } catch (IOException | NumberFormatException e) {
            // fall through to the stated assumption
        }
        return 2000.0;
    }
}
