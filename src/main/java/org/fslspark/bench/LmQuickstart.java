package org.fslspark.bench;

import org.apache.hadoop.conf.Configuration;
import org.apache.spark.sql.SparkSession;
import org.fslspark.config.Experiment;
import org.fslspark.config.ExperimentLoader;
import org.fslspark.data.TokenSequences;
import org.fslspark.data.TokenStore;
import org.fslspark.metrics.RoundRecord;
import org.fslspark.runtime.FederatedTraining;
import org.fslspark.runtime.PrepareJob;
import org.fslspark.runtime.Sparks;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

/**
 * The language-model quickstart as a benchmark: four institutes pre-train the fortunes GPT with the
 * config's algorithm, and its held-out perplexity is set against a byte-unigram baseline (training
 * token frequencies, add-one smoothed, on the same held-out targets). Prints figures, asserts nothing.
 */
@Command(name = "lm-quickstart", mixinStandardHelpOptions = true,
        description = {"Pre-train the language-model quickstart and compare its held-out perplexity with a unigram baseline.",
                "Example: bin/fsl bench lm-quickstart"})
public final class LmQuickstart implements Callable<Integer> {
    @Option(names = "--config", description = "Pre-training experiment (default: ${DEFAULT-VALUE}).")
    File config = new File("conf/fortunes-lm.conf");
    @Option(names = "--set", paramLabel = "KEY=VALUE", description = "Override a key of the pre-training experiment (repeatable).")
    List<String> overrides = new ArrayList<>();
    @Option(names = "--out", description = "Output directory (default: ${DEFAULT-VALUE}).")
    Path out = Path.of("out/lm-quickstart");

    @Override
    public Integer call() throws Exception {
        Files.createDirectories(out);
        List<String> keys = new ArrayList<>(overrides);
        keys.add("output=\"" + out.resolve("pretrain") + "\"");
        Experiment e = ExperimentLoader.load(config, keys);
        StringBuilder report = new StringBuilder();
        SparkSession spark = Sparks.session(e);
        try {
            PrepareJob.run(e, true, System.out);
            double baseline = unigramPerplexity(e);
            System.out.printf(Locale.ROOT, "byte-unigram baseline: held-out perplexity %.2f%n", baseline);
            long t0 = System.nanoTime();
            List<RoundRecord> rounds = FederatedTraining.run(e, spark, true, r -> System.out.printf(Locale.ROOT,
                    "round %2d  loss %.4f  perplexity %7.2f  next-token acc %.4f  %8.1f MB  %6.1f s%n", r.round(),
                    r.testLoss(), r.testPerplexity(), r.testAccuracy(), r.cumulativePayloadBytes() / 1e6,
                    r.roundSeconds())).rounds();
            double minutes = (System.nanoTime() - t0) / 60e9;
            RoundRecord last = rounds.get(rounds.size() - 1);
            report.append(String.format(Locale.ROOT, "| pre-training | %s | %s | %d | %.2f | %.2f | %.2f | %.4f | %.1f | %.1f |%n",
                    e.algorithm(), e.model(), rounds.size(), baseline, last.testPerplexity(), baseline / last.testPerplexity(),
                    last.testAccuracy(), last.cumulativePayloadBytes() / 1e6, minutes));
        } finally {
            spark.stop();
        }
        String table = String.format(Locale.ROOT, "| phase | algorithm | model | rounds | unigram perplexity | perplexity "
                + "| ratio | next-token accuracy | MB | minutes |%n| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |%n")
                + report;
        Files.writeString(out.resolve("summary.md"), table);
        System.out.printf("%n%s%nWritten: %s%n", table, out);
        return 0;
    }

    /**
     * Perplexity on the held-out targets (every token but a sequence's first) of token frequencies counted
     * over all institutes' training targets, with add-one smoothing over the vocabulary.
     */
    static double unigramPerplexity(Experiment e) {
        Configuration conf = new Configuration();
        int vocab = e.model().classes();
        long[] counts = new long[vocab];
        long total = 0;
        for (String institute : e.institutes()) {
            total += countTargets(TokenStore.read(conf, new org.apache.hadoop.fs.Path(e.data().locationOf(institute)), institute), counts);
        }
        TokenSequences test = TokenStore.readTest(conf, new org.apache.hadoop.fs.Path(e.data().testLocation()));
        long[] testCounts = new long[vocab];
        long n = countTargets(test, testCounts);
        double nll = 0;
        for (int t = 0; t < vocab; t++) {
            nll -= testCounts[t] * Math.log((counts[t] + 1.0) / (total + vocab));
        }
        return Math.exp(nll / n);
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
