package org.fslspark.bench;

import org.fslspark.algorithm.Learner;
import org.fslspark.model.ModelSpec;
import org.fslspark.model.ModelZoo;
import org.fslspark.model.Natives;
import org.fslspark.model.Network;
import org.fslspark.model.SplitModel;
import org.fslspark.text.ByteTokenizer;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.Adam;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.Callable;

/**
 * Training-step throughput of the zoo's GPT in tokens per second, ours against PyTorch
 * ({@code bench/torch_lm_step.py}) on the same machine, at two sizes: the split step (client forward
 * to the cut, server forward, cross-entropy, server backward and Adam step, client backward from the
 * gradient at the cut, client Adam step) and the same model's unsplit step, on random token batches.
 * Our side runs exactly the runtime's code for a step ({@link Learner#trainOn} on the server and for
 * the unsplit model, the client's no-copy forward and {@link Learner#backwardAndStep} as
 * SplitLearning does). Prints figures, asserts nothing; figures are medians over repeats with min
 * and max.
 */
@Command(name = "lm-step", mixinStandardHelpOptions = true,
        description = {"Tokens/s of one split and one unsplit training step of the zoo's GPT, ours vs PyTorch, with GFLOP/s"
                + " and peak memory, at two sizes: 'default' (width 128, 4 blocks of 4 heads, context 128: about 0.9M"
                + " parameters) and 'large' (width 384, 6 blocks of 6 heads, context 256: about 11M); byte vocabulary,"
                + " cut after block 2.",
                "Example: bin/fsl bench lm-step --repeats 5"})
public final class LmStepBenchmark implements Callable<Integer> {
    @Option(names = "--sizes", split = ",", description = "Sizes: default, large, or NAME:CONTEXT:WIDTH:DEPTH:HEADS:CUT"
            + " (default: ${DEFAULT-VALUE}).")
    List<String> sizes = List.of("default", "large");
    @Option(names = "--vocab", description = "Vocabulary size (default: ${DEFAULT-VALUE}, the byte tokenizer's).")
    int vocab = new ByteTokenizer().vocabSize();
    @Option(names = "--batch", description = "Sequences per minibatch (default: ${DEFAULT-VALUE}).")
    int batch = 16;
    @Option(names = "--repeats", description = "Timed repeats per figure (default: ${DEFAULT-VALUE}).")
    int repeats = 5;
    @Option(names = "--steps", description = "Steps per timed repeat (default: ${DEFAULT-VALUE}).")
    int steps = 5;
    @Option(names = "--warmup", description = "Untimed steps before timing, at least (default: ${DEFAULT-VALUE}).")
    int warmup = 3;
    @Option(names = "--warmup-seconds",
            description = "Untimed seconds of steps before timing, at least (default: ${DEFAULT-VALUE}).")
    double warmupSeconds = 5;
    @Option(names = "--threads", description = "PyTorch threads (default: ${DEFAULT-VALUE}).")
    int threads = 2;
    @Option(names = "--python", description = "Python with torch (default: ${DEFAULT-VALUE}).")
    String python = "/usr/bin/python3";
    @Option(names = "--torch-script", description = "The PyTorch side (default: bench/torch_lm_step.py under the project).")
    Path torchScript;
    @Option(names = "--no-torch", description = "Skip the PyTorch side.")
    boolean noTorch;
    @Option(names = "--torch-blas", description = "BLAS for the PyTorch side: auto (an installed OpenBLAS, else the system's),"
            + " system, or a directory holding libblas.so.3 (default: ${DEFAULT-VALUE}).")
    String torchBlas = "auto";
    @Option(names = "--fma-per-cycle", description = "512-bit FMA instructions per cycle per core for the peak (default: ${DEFAULT-VALUE}).")
    int fmaPerCycle = 2;

    private static final String[] MODES = {"split", "unsplit"};

    public static void main(String[] args) {
        System.exit(new CommandLine(new LmStepBenchmark()).execute(args));
    }

    /** One model size: context, width, depth, heads and the block after which it is cut. */
    record Size(String name, int context, int width, int depth, int heads, int cut) {
        static Size parse(String s) {
            return switch (s) {
                case "default" -> new Size("default", 128, 128, 4, 4, 2);
                case "large" -> new Size("large", 256, 384, 6, 6, 2);
                default -> {
                    String[] f = s.split(":");
                    if (f.length != 6) {
                        throw new IllegalArgumentException("size '" + s + "' is not default, large or NAME:CONTEXT:WIDTH:DEPTH:HEADS:CUT");
                    }
                    yield new Size(f[0], Integer.parseInt(f[1]), Integer.parseInt(f[2]), Integer.parseInt(f[3]),
                            Integer.parseInt(f[4]), Integer.parseInt(f[5]));
                }
            };
        }

        ModelSpec spec(int vocab) {
            return ModelSpec.gpt(vocab, context, width, depth, heads, cut);
        }

        /** As bench/torch_lm_step.py takes it. */
        String torchArg(int vocab) {
            return name + ":" + vocab + ":" + context + ":" + width + ":" + depth + ":" + heads + ":" + cut;
        }
    }

    /** Our figures for one size. */
    private record Ours(Map<String, StepBenchmark.Stats> rates, long params, long clientParams, double stepFlops,
                        long peakKiB) {
    }

    @Override
    public Integer call() throws IOException, InterruptedException {
        String loadBefore = StepBenchmark.loadAverage();
        List<Size> parsed = sizes.stream().map(Size::parse).toList();
        Map<String, Ours> ours = new LinkedHashMap<>();
        for (Size size : parsed) {
            ours.put(size.name(), runOurs(size));
        }
        String loadBetween = StepBenchmark.loadAverage();
        Map<String, Map<String, StepBenchmark.Stats>> torch = noTorch ? Map.of() : runTorch(parsed);
        report(parsed, ours, torch, loadBefore, loadBetween);
        return 0;
    }

    private Ours runOurs(Size size) {
        resetPeak();
        ModelSpec spec = size.spec(vocab);
        Random rng = new Random(7);
        List<INDArray> xs = new ArrayList<>();
        List<int[]> ys = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            int[] ids = rng.ints((long) batch * size.context(), 0, vocab).toArray();
            xs.add(Nd4j.createFromArray(ids).castTo(DataType.FLOAT).reshape(batch, size.context()));
            ys.add(rng.ints((long) batch * size.context(), 0, vocab).toArray());
        }
        Map<String, StepBenchmark.Stats> rates = new LinkedHashMap<>();
        long params = 0;
        long clientParams = 0;
        double stepFlops = 0;
        for (String mode : MODES) {
            // One model at a time: each keeps its activation and gradient buffers.
            StepBenchmark.StepFn step;
            if (mode.equals("split")) {
                SplitModel split = ModelZoo.split(spec, 1);
                Learner client = new Learner(split.client(), new Adam(1e-3));
                Learner server = new Learner(split.server(), new Adam(1e-3));
                clientParams = split.client().numParams();
                step = (x, y) -> {
                    // SplitLearning.exchangeAndStep and the server's Learner.trainOn, with no wire in between
                    INDArray activations = client.network().forwardNoCopy(x);
                    INDArray gradCut = server.trainOn(activations, y).inputGradient();
                    client.backwardAndStep(gradCut);
                };
            } else {
                Network full = ModelZoo.full(spec, 1);
                Learner learner = new Learner(full, new Adam(1e-3));
                params = full.numParams();
                stepFlops = 3 * 2.0 * full.macsPerSample() * batch; // forward, input gradient, weight gradient
                step = (x, y) -> learner.trainOn(x, y);
            }
            rates.put(mode, StepBenchmark.Stats.of(StepBenchmark.rates(step, xs, ys, warmup, warmupSeconds, repeats, steps,
                    (double) batch * size.context())));
            System.err.printf("ours  %-8s %-8s %s tokens/s%n", size.name(), mode, rates.get(mode).format());
            step = null;
            System.gc(); // let the finished model's buffers go before the next one
        }
        return new Ours(rates, params, clientParams, stepFlops, StepBenchmark.vmHwmKiB());
    }

    /** Resets this process's peak resident set (VmHWM) so that each size reports its own; Linux only. */
    private static void resetPeak() {
        try {
            Files.writeString(Path.of("/proc/self/clear_refs"), "5");
        } catch (IOException | RuntimeException e) {
            // then the peak is the process's so far
        }
    }

    private final Map<String, Long> torchPeakKiB = new LinkedHashMap<>();
    private String torchVersion = "?";
    private String torchKernels = "?";

    private Map<String, Map<String, StepBenchmark.Stats>> runTorch(List<Size> parsed) throws IOException, InterruptedException {
        Path script = torchScript != null ? torchScript : locateScript();
        Map<String, Map<String, StepBenchmark.Stats>> result = new LinkedHashMap<>();
        for (Size size : parsed) { // one process per size: its own peak memory
            List<String> cmd = List.of(python, script.toString(), "--sizes", size.torchArg(vocab), "--batch", "" + batch,
                    "--steps", "" + steps, "--warmup", "" + warmup, "--warmup-seconds", "" + warmupSeconds,
                    "--repeats", "" + repeats, "--threads", "" + threads);
            Process p = TorchSide.process(cmd, torchBlas).redirectError(ProcessBuilder.Redirect.INHERIT).start();
            try (BufferedReader in = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                for (String line; (line = in.readLine()) != null; ) {
                    String[] w = line.trim().split("\\s+");
                    switch (w[0]) {
                        case "peak_rss_kib" -> torchPeakKiB.put(size.name(), Long.parseLong(w[1]));
                        case "torch" -> torchVersion = w[1];
                        case "kernels" -> torchKernels = line.substring("kernels ".length());
                        case "rate" -> {
                            double[] rates = new double[w.length - 3];
                            for (int i = 0; i < rates.length; i++) {
                                rates[i] = Double.parseDouble(w[i + 3]);
                            }
                            StepBenchmark.Stats s = StepBenchmark.Stats.of(rates);
                            result.computeIfAbsent(w[1], k -> new LinkedHashMap<>()).put(w[2], s);
                            System.err.printf("torch %-8s %-8s %s tokens/s%n", w[1], w[2], s.format());
                        }
                        default -> System.err.println("torch_lm_step.py: " + line);
                    }
                }
            }
            if (p.waitFor() != 0) {
                throw new IllegalStateException("PyTorch side failed: " + String.join(" ", cmd));
            }
        }
        return result;
    }

    private static Path locateScript() {
        for (String base : new String[]{System.getProperty("fsl.home", "."), System.getenv().getOrDefault("FSL_HOME", ".")}) {
            Path p = Path.of(base, "bench", "torch_lm_step.py");
            if (Files.isRegularFile(p)) {
                return p;
            }
        }
        throw new IllegalStateException("bench/torch_lm_step.py not found; run from the project directory or pass --torch-script");
    }

    private void report(List<Size> parsed, Map<String, Ours> ours, Map<String, Map<String, StepBenchmark.Stats>> torch,
                        String loadBefore, String loadBetween) {
        int cores = Runtime.getRuntime().availableProcessors();
        double mhz = StepBenchmark.cpuMhz();
        int flopsPerCycle = 16 * 2 * fmaPerCycle;
        double peak = cores * mhz / 1000.0 * flopsPerCycle;
        System.out.println();
        System.out.printf("LmStepBenchmark: batch %d sequences, vocabulary %d, Adam lr 1e-3, random tokens and targets;"
                + " at least %d warm-up steps and %.0f s per mode, %d repeats x %d steps; tokens/s as median [min..max]%n", batch, vocab, warmup,
                warmupSeconds, repeats, steps);
        for (Size size : parsed) {
            Ours o = ours.get(size.name());
            System.out.printf("  %-8s context %d, width %d, %d blocks of %d heads, cut after block %d: %,d parameters (client %,d);"
                            + " %.2f GFLOP per step (3 x forward: dense layers and both attention products, masked half included)%n",
                    size.name(), size.context(), size.width(), size.depth(), size.heads(), size.cut(), o.params(), o.clientParams(),
                    o.stepFlops() / 1e9);
        }
        System.out.printf("Ours: ND4J %s, libnd4j %s (oneDNN: %s); the GPT layers on %s primitives%n",
                Nd4j.getBackend().getClass().getSimpleName(), Natives.libnd4jPath().replaceAll(".*/bindings/", ""),
                Natives.oneDnn(), Natives.dnnlStatus());
        if (!noTorch) {
            System.out.printf("PyTorch %s, %d threads, started as: %s %s; %s%n", torchVersion, threads, TorchSide.describe(torchBlas),
                    python, torchKernels);
        }
        System.out.printf("Load average (/proc/loadavg) before: %s; after our side: %s; at the end: %s"
                + " (other processes on the two cores skew both sides)%n", loadBefore, loadBetween, StepBenchmark.loadAverage());
        System.out.printf("Peak: %d cores x %.0f MHz (cpu MHz in /proc/cpuinfo) x %d FLOP/cycle = %.1f GFLOP/s fp32 at that"
                + " clock (a VM's nominal one; boosting cores run faster: docs/PERFORMANCE.md)%n",
                cores, mhz, flopsPerCycle, peak);
        System.out.println();
        System.out.printf("%-8s %-8s %-28s %-28s %7s %9s %9s%n", "size", "step", "ours tokens/s", "torch tokens/s", "ours/pt",
                "ours GF/s", "pt GF/s");
        for (Size size : parsed) {
            Ours o = ours.get(size.name());
            double flopsPerToken = o.stepFlops() / ((double) batch * size.context());
            for (String mode : MODES) {
                StepBenchmark.Stats s = o.rates().get(mode);
                StepBenchmark.Stats t = torch.getOrDefault(size.name(), Map.of()).get(mode);
                System.out.printf("%-8s %-8s %-28s %-28s %7s %9.1f %9s%n", size.name(), mode, s.format(), t == null ? "-" : t.format(),
                        t == null ? "-" : String.format("%.2f", s.median() / t.median()), s.median() * flopsPerToken / 1e9,
                        t == null ? "-" : String.format("%.1f", t.median() * flopsPerToken / 1e9));
            }
            StepBenchmark.Stats ts = torch.getOrDefault(size.name(), Map.of()).get("split");
            StepBenchmark.Stats tu = torch.getOrDefault(size.name(), Map.of()).get("unsplit");
            System.out.printf("%-8s split/unsplit: ours %.3f%s; peak resident memory: ours %.0f MiB (JVM, this size's two models"
                            + " one after the other)%s%n", size.name(), o.rates().get("split").median() / o.rates().get("unsplit").median(),
                    ts == null || tu == null ? "" : String.format(", PyTorch %.3f", ts.median() / tu.median()), o.peakKiB() / 1024.0,
                    torchPeakKiB.containsKey(size.name()) ? String.format(", PyTorch %.0f MiB (its process)",
                            torchPeakKiB.get(size.name()) / 1024.0) : "");
        }
        System.out.printf("JVM limits: heap max %d MiB, javacpp maxbytes %s, maxphysicalbytes %s%n", Runtime.getRuntime().maxMemory() >> 20,
                System.getProperty("org.bytedeco.javacpp.maxbytes", "default"),
                System.getProperty("org.bytedeco.javacpp.maxphysicalbytes", "default"));
    }
}
