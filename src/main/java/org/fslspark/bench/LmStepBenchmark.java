package org.fslspark.bench;

import org.fslspark.model.CrossEntropy;
import org.fslspark.model.ModelSpec;
import org.fslspark.model.ModelZoo;
import org.fslspark.model.Natives;
import org.fslspark.model.Network;
import org.fslspark.model.Optimizer;
import org.fslspark.model.SplitModel;
import org.fslspark.text.ByteTokenizer;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.Adam;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.Callable;

/**
 * Training-step throughput of the zoo's GPT in tokens per second: the split step (client forward to
 * the cut, server forward, cross-entropy, server backward and Adam step, client backward from the
 * gradient at the cut, client Adam step) and the same model's unsplit step, on random token batches.
 * Prints figures, asserts nothing; figures are medians over repeats with min and max.
 */
@Command(name = "lm-step", mixinStandardHelpOptions = true,
        description = {"Tokens/s of one split and one unsplit training step of the zoo's GPT (default: about 0.9M"
                + " parameters, byte vocabulary, width 128, 4 blocks, 4 heads, context 128, cut after block 2).",
                "Example: bin/fsl bench lm-step --repeats 5"})
public final class LmStepBenchmark implements Callable<Integer> {
    @Option(names = "--vocab", description = "Vocabulary size (default: ${DEFAULT-VALUE}, the byte tokenizer's).")
    int vocab = new ByteTokenizer().vocabSize();
    @Option(names = "--context", description = "Tokens per sequence (default: ${DEFAULT-VALUE}).")
    int context = 128;
    @Option(names = "--width", description = "Model width (default: ${DEFAULT-VALUE}).")
    int width = 128;
    @Option(names = "--depth", description = "Transformer blocks (default: ${DEFAULT-VALUE}).")
    int depth = 4;
    @Option(names = "--heads", description = "Attention heads (default: ${DEFAULT-VALUE}).")
    int heads = 4;
    @Option(names = "--cut", description = "Cut after this block (default: ${DEFAULT-VALUE}).")
    int cut = 2;
    @Option(names = "--batch", description = "Sequences per minibatch (default: ${DEFAULT-VALUE}).")
    int batch = 16;
    @Option(names = "--repeats", description = "Timed repeats per figure (default: ${DEFAULT-VALUE}).")
    int repeats = 5;
    @Option(names = "--steps", description = "Steps per timed repeat (default: ${DEFAULT-VALUE}).")
    int steps = 5;
    @Option(names = "--warmup", description = "Untimed steps before timing (default: ${DEFAULT-VALUE}).")
    int warmup = 3;

    public static void main(String[] args) {
        System.exit(new CommandLine(new LmStepBenchmark()).execute(args));
    }

    @FunctionalInterface
    private interface Step {
        void run(INDArray tokens, int[] targets);
    }

    @Override
    public Integer call() {
        String loadBefore = StepBenchmark.loadAverage();
        ModelSpec spec = ModelSpec.gpt(vocab, context, width, depth, heads, cut);
        SplitModel split = ModelZoo.split(spec, 1);
        Network full = ModelZoo.full(spec, 1);
        Optimizer clientOpt = new Optimizer(new Adam(1e-3), split.client());
        Optimizer serverOpt = new Optimizer(new Adam(1e-3), split.server());
        Optimizer fullOpt = new Optimizer(new Adam(1e-3), full);

        Random rng = new Random(7);
        List<INDArray> xs = new ArrayList<>();
        List<int[]> ys = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            int[] ids = rng.ints((long) batch * context, 0, vocab).toArray();
            xs.add(Nd4j.createFromArray(ids).castTo(DataType.FLOAT).reshape(batch, context));
            ys.add(rng.ints((long) batch * context, 0, vocab).toArray());
        }
        Map<String, Step> modes = new LinkedHashMap<>();
        modes.put("split", (x, y) -> {
            INDArray activations = split.client().forward(x);
            CrossEntropy.Result r = CrossEntropy.evaluate(split.server().forward(activations), y, true);
            INDArray gradCut = split.server().backward(r.gradient());
            serverOpt.step(split.server());
            split.client().backward(gradCut, false);
            clientOpt.step(split.client());
        });
        modes.put("unsplit", (x, y) -> {
            CrossEntropy.Result r = CrossEntropy.evaluate(full.forward(x), y, true);
            full.backward(r.gradient(), false);
            fullOpt.step(full);
        });

        double stepFlops = 3 * 2.0 * full.macsPerSample() * batch; // forward, input gradient, weight gradient
        Map<String, StepBenchmark.Stats> results = new LinkedHashMap<>();
        for (Map.Entry<String, Step> mode : modes.entrySet()) {
            for (int i = 0; i < warmup; i++) {
                mode.getValue().run(xs.get(i % xs.size()), ys.get(i % ys.size()));
            }
            double[] rates = new double[repeats];
            for (int r = 0; r < repeats; r++) {
                long t0 = System.nanoTime();
                for (int i = 0; i < steps; i++) {
                    mode.getValue().run(xs.get(i % xs.size()), ys.get(i % ys.size()));
                }
                rates[r] = (double) steps * batch * context / ((System.nanoTime() - t0) / 1e9);
            }
            results.put(mode.getKey(), StepBenchmark.Stats.of(rates));
            System.err.printf("%-8s %s tokens/s%n", mode.getKey(), results.get(mode.getKey()).format());
        }

        System.out.println();
        System.out.printf("LmStepBenchmark: %s, %,d parameters (client %,d, server %,d), cut activations %s per sequence%n",
                spec, full.numParams(), split.client().numParams(), split.server().numParams(),
                java.util.Arrays.toString(split.cutShape()));
        System.out.printf("batch %d x %d tokens, Adam, random tokens and targets; %d warm-up steps, %d repeats x %d steps;"
                + " tokens/s as median [min..max]%n", batch, context, warmup, repeats, steps);
        System.out.printf("libnd4j %s (oneDNN: %s); load average (/proc/loadavg) before %s, after %s%n",
                Natives.libnd4jPath().replaceAll(".*/bindings/", ""), Natives.oneDnn(), loadBefore, StepBenchmark.loadAverage());
        System.out.printf("FLOPs per step: 3 x forward = %.2f GFLOP (dense layers and attention products)%n", stepFlops / 1e9);
        System.out.println();
        System.out.printf("%-8s %-30s %9s%n", "step", "tokens/s", "GFLOP/s");
        for (Map.Entry<String, StepBenchmark.Stats> e : results.entrySet()) {
            double stepsPerSecond = e.getValue().median() / ((double) batch * context);
            System.out.printf("%-8s %-30s %9.1f%n", e.getKey(), e.getValue().format(), stepsPerSecond * stepFlops / 1e9);
        }
        return 0;
    }
}
