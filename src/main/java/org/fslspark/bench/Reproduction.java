package org.fslspark.bench;

import org.fslspark.config.Experiment;
import org.fslspark.config.ExperimentLoader;
import org.fslspark.metrics.Plots;
import org.fslspark.metrics.RoundRecord;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * The FSL-SAGE paper's comparison on our data: every algorithm on an IID and a Dirichlet split,
 * same seeds and model; a summary (best accuracy, traffic and rounds to reach 80% and 85%) and
 * accuracy against cumulative traffic, one curve per algorithm. Prints figures, asserts nothing.
 */
@Command(name = "reproduce", mixinStandardHelpOptions = true,
        description = "FedAvg, SL, SplitFed-V1/V2, CSE-FSL and FSL-SAGE on IID and Dirichlet splits: summary table and accuracy-vs-traffic plots.")
public final class Reproduction implements Callable<Integer> {
    @Option(names = "--config", description = "Base experiment (default: ${DEFAULT-VALUE}).")
    File config = new File("conf/reproduce.conf");
    @Option(names = "--algorithms", split = ",", description = "Algorithms (default: ${DEFAULT-VALUE}).")
    List<String> algorithms = List.of("fedavg", "sl", "splitfed-v1", "splitfed-v2", "cse-fsl", "fsl-sage");
    @Option(names = "--splits", split = ",", description = "Partitions: iid and/or dirichlet (default: ${DEFAULT-VALUE}).")
    List<String> splits = List.of("iid", "dirichlet");
    @Option(names = "--set", paramLabel = "KEY=VALUE", description = "Override a key of the base experiment (repeatable).")
    List<String> overrides = new ArrayList<>();
    @Option(names = "--out", description = "Output directory (default: ${DEFAULT-VALUE}).")
    Path out = Path.of("out/reproduce");

    static final double[] TARGETS = {0.80, 0.85};

    @Override
    public Integer call() throws Exception {
        long start = System.nanoTime();
        Files.createDirectories(out);
        StringBuilder table = new StringBuilder(String.format(Locale.ROOT,
                "| split | algorithm | rounds | best accuracy | MB to 80%% | rounds to 80%% | MB to 85%% | rounds to 85%% | MB in all | seconds |%n"
                        + "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |%n"));
        try (BenchRuns runs = new BenchRuns()) {
            for (String split : splits) {
                Map<String, List<RoundRecord>> curves = new LinkedHashMap<>();
                for (String algorithm : algorithms) {
                    List<String> keys = new ArrayList<>(overrides);
                    keys.addAll(List.of("data.partition.scheme=" + split, "algorithm=" + algorithm,
                            "experiment=reproduce-" + split,
                            "output=\"" + out.resolve(split).resolve(algorithm) + "\""));
                    Experiment e = ExperimentLoader.load(config, keys);
                    List<RoundRecord> rounds = runs.run(e, curves.isEmpty(), algorithm + ", " + split + " split");
                    curves.put(algorithm, rounds);
                    table.append(row(split, algorithm, rounds));
                    Files.writeString(out.resolve("summary.md"), table.toString());
                }
                Files.write(out.resolve("accuracy_vs_traffic_" + split + ".png"),
                        Plots.accuracyAgainst("cumulative payload traffic (MB), " + split + " split", curves, Plots::megabytes));
            }
        }
        System.out.printf(Locale.ROOT, "%n%s%nWhole benchmark: %.1f min. Written: %s (summary.md, accuracy_vs_traffic_*.png, per-run results)%n",
                table, (System.nanoTime() - start) / 60e9, out);
        return 0;
    }

    static String row(String split, String algorithm, List<RoundRecord> rounds) {
        double best = rounds.stream().mapToDouble(RoundRecord::testAccuracy).max().orElse(0);
        StringBuilder b = new StringBuilder(String.format(Locale.ROOT, "| %s | %s | %d | %.4f |", split, algorithm,
                rounds.size(), best));
        for (double target : TARGETS) {
            b.append(RoundRecord.firstReaching(rounds, target)
                    .map(r -> String.format(Locale.ROOT, " %.1f | %d |", r.cumulativePayloadBytes() / 1e6, r.round() + 1))
                    .orElse(" not reached | - |"));
        }
        RoundRecord last = rounds.get(rounds.size() - 1);
        return b.append(String.format(Locale.ROOT, " %.1f | %.0f |%n", last.cumulativePayloadBytes() / 1e6,
                last.cumulativeSeconds())).toString();
    }
}
