package org.fslspark.bench;

import org.fslspark.config.Experiment;
import org.fslspark.config.ExperimentLoader;
import org.fslspark.metrics.ResultsWriter;
import org.fslspark.metrics.RoundRecord;
import org.fslspark.testbed.LocalTestbed;
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
import java.util.Optional;
import java.util.concurrent.Callable;

/**
 * Time to a target accuracy on the local multi-process test-bed with emulated links: SL,
 * SplitFed-V1/V2, CSE-FSL and FSL-SAGE on the reproduction's Fashion-MNIST setting (IID split),
 * each until it reaches the target or the round limit. Per algorithm: rounds, measured and modelled
 * cumulative seconds to the target and their ratio; then FSL-SAGE's times over SL's and
 * SplitFed-V2's. Prints figures, asserts nothing; "not reached" where a run did not get there.
 */
@Command(name = "testbed-time", mixinStandardHelpOptions = true,
        description = "Measured and modelled seconds to a target accuracy of SL, SplitFed-V1/V2, CSE-FSL and FSL-SAGE on the "
                + "local test-bed (jobs/testbed) with the topology's emulated links.")
public final class TestbedTime implements Callable<Integer> {
    @Option(names = "--config", description = "Base experiment (default: ${DEFAULT-VALUE}).")
    File config = new File("conf/reproduce.conf");
    @Option(names = "--topology", description = "Test-bed topology; its links are emulated (default: ${DEFAULT-VALUE}).")
    Path topology = Path.of("conf/testbeds/aiedge.conf");
    @Option(names = "--algorithms", split = ",", description = "Algorithms (default: ${DEFAULT-VALUE}).")
    List<String> algorithms = ALL;
    @Option(names = "--target", description = "Target test accuracy (default: ${DEFAULT-VALUE}).")
    double target = 0.85;
    @Option(names = "--max-rounds", description = "Rounds at most per algorithm (default: ${DEFAULT-VALUE}).")
    int maxRounds = 30;
    @Option(names = "--master", paramLabel = "URL", description = "A running test-bed's master (default: start the local "
            + "test-bed under OUT/testbed and stop it at the end).")
    String master;
    @Option(names = "--set", paramLabel = "KEY=VALUE", description = "Override a key of the base experiment (repeatable).")
    List<String> overrides = new ArrayList<>();
    @Option(names = "--out", description = "Output directory (default: ${DEFAULT-VALUE}).")
    Path out = Path.of("out/testbed-time");
    @Option(names = "--reuse", description = "Also summarise the algorithms an earlier invocation left under --out "
            + "(OUT/<algorithm>/rounds.csv) and that are not run now, so that FSL-SAGE's ratios span both.")
    boolean reuse;

    static final List<String> ALL = List.of("sl", "splitfed-v1", "splitfed-v2", "cse-fsl", "fsl-sage");
    /** Ratios of FSL-SAGE's time to target over these algorithms'. */
    static final List<String> BASELINES = List.of("sl", "splitfed-v2");
    static final String SUBJECT = "fsl-sage";

    @Override
    public Integer call() throws Exception {
        Files.createDirectories(out);
        Path state = out.resolve("testbed");
        String url = master;
        if (url == null) {
            // Long enough for the whole benchmark; it stops by itself should this process die.
            url = LocalTestbed.start(state, topology, 8 * 3600);
        }
        Map<String, List<RoundRecord>> results = earlierResults();
        // The test-bed is a cluster, so its links need keys (security.require-tls = auto): its own unless --set names others.
        List<String> security = overrides.stream().anyMatch(o -> o.startsWith("security.")) ? List.of()
                : TestbedKeys.settings(topology, out.resolve("keys"));
        try (BenchRuns runs = new BenchRuns()) {
            for (String algorithm : algorithms) {
                List<String> keys = new ArrayList<>(security);
                keys.addAll(LocalTestbed.sparkSettings(state));
                keys.addAll(overrides);
                // SplitFed's server serves minibatches as they arrive, its clients working in parallel:
                // the reproduction's client-by-client order (for determinism) would make them take turns.
                keys.addAll(List.of("data.partition.scheme=iid", "algorithm=" + algorithm, "experiment=testbed-time",
                        "train.server-order=arrival",
                        "train.rounds=" + maxRounds, "stop.target-accuracy=" + target, "spark.master=\"" + url + "\"",
                        "testbed.topology=\"" + topology + "\"", "testbed.emulate-links=true",
                        "output=\"" + out.resolve(algorithm) + "\""));
                Experiment e = ExperimentLoader.load(config, keys);
                results.put(algorithm, runs.run(e, algorithm.equals(algorithms.get(0)), algorithm + " on the test-bed " + topology));
                write(results);
            }
        } finally {
            if (master == null) {
                LocalTestbed.stop(state);
            }
        }
        System.out.printf("%n%s%nWritten: %s (summary.md, summary.csv, per-run results)%n", markdown(results), out);
        return 0;
    }

    /** With --reuse, the rounds of the algorithms not run now that an earlier invocation left under --out. */
    Map<String, List<RoundRecord>> earlierResults() throws java.io.IOException {
        Map<String, List<RoundRecord>> earlier = new LinkedHashMap<>();
        if (!reuse) {
            return earlier;
        }
        for (String algorithm : ALL) {
            Path rounds = out.resolve(algorithm).resolve("rounds.csv");
            if (!algorithms.contains(algorithm) && Files.exists(rounds)) {
                earlier.put(algorithm, ResultsWriter.readRounds(rounds));
                System.out.printf("%s: the results of an earlier invocation, %s%n", algorithm, rounds);
            }
        }
        return earlier;
    }

    private void write(Map<String, List<RoundRecord>> results) throws java.io.IOException {
        Files.writeString(out.resolve("summary.md"), markdown(results));
        Files.writeString(out.resolve("summary.csv"), csv(results));
    }

    private Optional<RoundRecord> reached(List<RoundRecord> rounds) {
        return RoundRecord.firstReaching(rounds, target);
    }

    String markdown(Map<String, List<RoundRecord>> results) {
        StringBuilder b = new StringBuilder(String.format(Locale.ROOT, "Target test accuracy %.2f, at most %d rounds; "
                + "seconds are cumulative to the first round that reached it.%n%n"
                + "| algorithm | rounds run | best accuracy | rounds to target | measured s | modelled s | measured / modelled |%n"
                + "| --- | --- | --- | --- | --- | --- | --- |%n", target, maxRounds));
        results.forEach((algorithm, rounds) -> {
            double best = rounds.stream().mapToDouble(RoundRecord::testAccuracy).max().orElse(0);
            b.append(String.format(Locale.ROOT, "| %s | %d | %.4f | ", algorithm, rounds.size(), best));
            b.append(reached(rounds).map(r -> String.format(Locale.ROOT, "%d | %.1f | %.1f | %.2f |%n", r.round() + 1,
                    r.cumulativeSeconds(), r.cumulativeModelledSeconds(), r.cumulativeSeconds() / r.cumulativeModelledSeconds()))
                    .orElse("not reached | - | - | - |\n"));
        });
        b.append(String.format(Locale.ROOT, "%n| ratio of time to target | measured | modelled |%n| --- | --- | --- |%n"));
        for (String baseline : BASELINES) {
            String[] r = ratios(results, baseline);
            b.append(String.format(Locale.ROOT, "| %s / %s | %s | %s |%n", SUBJECT, baseline, r[0], r[1]));
        }
        return b.toString();
    }

    String csv(Map<String, List<RoundRecord>> results) {
        StringBuilder b = new StringBuilder("algorithm,target,rounds_run,rounds_to_target,measured_seconds,modelled_seconds,measured_over_modelled\n");
        results.forEach((algorithm, rounds) -> b.append(algorithm).append(',').append(target).append(',').append(rounds.size())
                .append(',').append(reached(rounds).map(r -> String.format(Locale.ROOT, "%d,%.3f,%.3f,%.4f", r.round() + 1,
                        r.cumulativeSeconds(), r.cumulativeModelledSeconds(), r.cumulativeSeconds() / r.cumulativeModelledSeconds()))
                        .orElse("not reached,,,")).append('\n'));
        for (String baseline : BASELINES) {
            String[] r = ratios(results, baseline);
            b.append(SUBJECT).append('/').append(baseline).append(",").append(target).append(",,,")
                    .append(r[0]).append(',').append(r[1]).append(",\n");
        }
        return b.toString();
    }

    /** FSL-SAGE's measured and modelled time to target over the baseline's, or why there is none. */
    String[] ratios(Map<String, List<RoundRecord>> results, String baseline) {
        List<RoundRecord> subject = results.get(SUBJECT);
        List<RoundRecord> base = results.get(baseline);
        if (subject == null || base == null) {
            return new String[]{"not run", "not run"};
        }
        Optional<RoundRecord> s = reached(subject);
        Optional<RoundRecord> o = reached(base);
        if (s.isEmpty() || o.isEmpty()) {
            String why = "not reached by " + (s.isEmpty() ? SUBJECT : baseline);
            return new String[]{why, why};
        }
        return new String[]{String.format(Locale.ROOT, "%.2f", s.get().cumulativeSeconds() / o.get().cumulativeSeconds()),
                String.format(Locale.ROOT, "%.2f", s.get().cumulativeModelledSeconds() / o.get().cumulativeModelledSeconds())};
    }
}
