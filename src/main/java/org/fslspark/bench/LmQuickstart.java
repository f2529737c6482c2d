package org.fslspark.bench;

import org.apache.hadoop.conf.Configuration;
import org.fslspark.config.Experiment;
import org.fslspark.config.ExperimentLoader;
import org.fslspark.data.TokenSequences;
import org.fslspark.data.TokenStore;
import org.fslspark.metrics.RoundRecord;
import org.fslspark.model.Checkpoint;
import org.fslspark.model.CrossEntropy;
import org.fslspark.model.Network;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

/**
 * The language-model quickstart as a benchmark: four institutes pre-train the fortunes GPT, whose
 * held-out perplexity is set against a byte-unigram baseline (training token frequencies, add-one
 * smoothed, on the same held-out targets); then LoRA fine-tuning on a second corpus from that
 * checkpoint, against one round of full fine-tuning for the bytes a round sends. Prints figures,
 * asserts nothing.
 */
@Command(name = "lm-quickstart", mixinStandardHelpOptions = true,
        description = {"Pre-train the language-model quickstart (perplexity against a unigram baseline), then fine-tune it"
                + " with LoRA on a second corpus (perplexity before and after, bytes a round against full fine-tuning).",
                "Example: bin/fsl bench lm-quickstart"})
public final class LmQuickstart implements Callable<Integer> {
    @Option(names = "--config", description = "Pre-training experiment (default: ${DEFAULT-VALUE}).")
    File config = new File("conf/fortunes-lm.conf");
    @Option(names = "--fine-tune", description = "LoRA fine-tuning experiment; its model.init is replaced by the "
            + "pre-trained checkpoint (default: ${DEFAULT-VALUE}).")
    File fineTune = new File("conf/fortunes-lora.conf");
    @Option(names = "--set", paramLabel = "KEY=VALUE", description = "Override a key of the pre-training experiment (repeatable).")
    List<String> overrides = new ArrayList<>();
    @Option(names = "--fine-tune-set", paramLabel = "KEY=VALUE", description = "Override a key of the fine-tuning experiment (repeatable).")
    List<String> fineTuneOverrides = new ArrayList<>();
    @Option(names = "--init", description = "Skip pre-training and fine-tune this checkpoint (a run's <output>/model).")
    String init;
    @Option(names = "--out", description = "Output directory (default: ${DEFAULT-VALUE}).")
    Path out = Path.of("out/lm-quickstart");

    private static final String HEADER = "| phase | algorithm | rounds | perplexity before | perplexity after | ratio "
            + "| next-token accuracy | MB a round | minutes |%n| --- | --- | --- | --- | --- | --- | --- | --- | --- |%n";

    @Override
    public Integer call() throws Exception {
        Files.createDirectories(out);
        StringBuilder table = new StringBuilder(String.format(Locale.ROOT, HEADER));
        try (BenchRuns runs = new BenchRuns()) {
            if (init == null) {
                Experiment pre = ExperimentLoader.load(config, with(overrides, "output", out.resolve("pretrain").toString()));
                // Prepared first so that the baseline is known before the long part.
                double baseline = unigramPerplexity(pre, runs);
                long t0 = System.nanoTime();
                List<RoundRecord> rounds = runs.run(pre, false, "pre-training, " + pre.algorithm());
                table.append(row("pre-training (before: byte unigram)", pre, rounds, baseline, t0));
                write(table);
                init = out.resolve("pretrain").resolve("model").toString();
            }
            List<String> keys = with(fineTuneOverrides, "model.init", init);
            Experiment lora = ExperimentLoader.load(fineTune, with(keys, "output", out.resolve("lora").toString()));
            runs.prepare(lora);
            double before = perplexity(Checkpoint.read(init, new Configuration()).network(), testSet(lora),
                    lora.train().evalBatchSize());
            long t0 = System.nanoTime();
            List<RoundRecord> adapted = runs.run(lora, false, "LoRA fine-tuning, " + lora.algorithm());
            table.append(row("LoRA fine-tuning (before: the checkpoint)", lora, adapted, before, t0));
            write(table);

            keys = with(keys, "model.lora.rank", "0");
            keys = with(keys, "train.rounds", "1");
            Experiment full = ExperimentLoader.load(fineTune, with(keys, "output", out.resolve("full").toString()));
            t0 = System.nanoTime();
            List<RoundRecord> fullRounds = runs.run(full, false, "full fine-tuning, one round, " + full.algorithm());
            table.append(row("full fine-tuning", full, fullRounds, before, t0));
            double loraBytes = meanBytes(adapted);
            double fullBytes = meanBytes(fullRounds);
            table.append(String.format(Locale.ROOT, "%nPayload bytes a round: LoRA %.3f MB, full fine-tuning %.3f MB: %.1f%%.%n",
                    loraBytes / 1e6, fullBytes / 1e6, 100 * loraBytes / fullBytes));
            write(table);
        }
        System.out.printf("%n%s%nWritten: %s%n", table, out);
        return 0;
    }

    private void write(StringBuilder table) throws java.io.IOException {
        Files.writeString(out.resolve("summary.md"), table.toString());
    }

    private static List<String> with(List<String> keys, String key, String value) {
        List<String> all = new ArrayList<>(keys);
        all.add(key + "=\"" + value + "\"");
        return all;
    }

    private static String row(String phase, Experiment e, List<RoundRecord> rounds, double before, long t0) {
        RoundRecord last = rounds.get(rounds.size() - 1);
        return String.format(Locale.ROOT, "| %s | %s | %d | %.2f | %.2f | %.2f | %.4f | %.3f | %.1f |%n", phase,
                e.algorithm(), rounds.size(), before, last.testPerplexity(), before / last.testPerplexity(),
                last.testAccuracy(), meanBytes(rounds) / 1e6,
                (System.nanoTime() - t0) / 60e9);
    }

    /** Payload bytes a round, on average over the run. */
    private static double meanBytes(List<RoundRecord> rounds) {
        return (double) rounds.get(rounds.size() - 1).cumulativePayloadBytes() / rounds.size();
    }

    private static TokenSequences testSet(Experiment e) {
        return TokenStore.readTest(new Configuration(), new org.apache.hadoop.fs.Path(e.data().testLocation()));
    }

    /** Token perplexity of an unsplit language model on held-out sequences. */
    static double perplexity(Network net, TokenSequences test, int batchSize) {
        double lossSum = 0;
        long rows = 0;
        int[] all = new int[test.size()];
        Arrays.setAll(all, i -> i);
        for (int start = 0; start < all.length; start += batchSize) {
            int[] idx = Arrays.copyOfRange(all, start, Math.min(all.length, start + batchSize));
            CrossEntropy.Result r = CrossEntropy.evaluate(net.forward(test.features(idx)), test.labels(idx), false);
            lossSum += r.lossSum();
            rows += r.rows();
        }
        return Math.exp(lossSum / rows);
    }

    /**
     * Prepares {@code e}'s partitions, then the perplexity on its held-out targets (every token but a
     * sequence's first) of token frequencies counted over all institutes' training targets, with add-one
     * smoothing over the vocabulary.
     */
    private static double unigramPerplexity(Experiment e, BenchRuns runs) {
        runs.prepare(e);
        Configuration conf = new Configuration();
        int vocab = e.model().classes();
        long[] counts = new long[vocab];
        long total = 0;
        for (String institute : e.institutes()) {
            total += countTargets(TokenStore.read(conf, new org.apache.hadoop.fs.Path(e.data().locationOf(institute)),
                    institute), counts);
        }
        long[] testCounts = new long[vocab];
        long n = countTargets(testSet(e), testCounts);
        double nll = 0;
        for (int t = 0; t < vocab; t++) {
            nll -= testCounts[t] * Math.log((counts[t] + 1.0) / (total + vocab));
        }
        double perplexity = Math.exp(nll / n);
        System.out.printf(Locale.ROOT, "byte-unigram baseline: held-out perplexity %.2f%n", perplexity);
        return perplexity;
    }

    private static long countTargets(TokenSequences s, long[] counts) {
        int len = s.context() + 1;
        int[] tokens = s.tokens();
        long n = 0;
        for (int i = 0; i < tokens.length; i++) {
            if (i % len != 0) {
                counts[tokens[i]]++;
                n++;
            }
        }
        return n;
    }
}
