package org.fslspark.bench;

import org.fslspark.config.ExperimentLoader;
import org.fslspark.metrics.RoundRecord;
import org.fslspark.sweep.Grid;
import org.fslspark.sweep.Seeds;
import org.fslspark.sweep.Sweep;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

/**
 * The FSL-SAGE paper's comparison on our data, as a sweep: every algorithm on an IID and a Dirichlet
 * split, seeds 1..N each; the summary (best and final accuracy, traffic, rounds and time to 80% and 85%,
 * with 95% intervals) and accuracy against traffic and time with interval bars. Prints figures, asserts nothing.
 */
@Command(name = "reproduce", mixinStandardHelpOptions = true,
        description = "FedAvg, SL, SplitFed-V1/V2, CSE-FSL and FSL-SAGE on IID and Dirichlet splits over several seeds "
                + "(a sweep, resumable): summary with 95%% intervals and accuracy-vs-traffic plots.")
public final class Reproduction implements Callable<Integer> {
    @Option(names = "--config", description = "Base experiment (default: ${DEFAULT-VALUE}).")
    String config = "conf/reproduce.conf";
    @Option(names = "--algorithms", split = ",", description = "Algorithms (default: ${DEFAULT-VALUE}).")
    List<String> algorithms = List.of("fedavg", "sl", "splitfed-v1", "splitfed-v2", "cse-fsl", "fsl-sage");
    @Option(names = "--splits", split = ",", description = "Partitions: iid and/or dirichlet (default: ${DEFAULT-VALUE}).")
    List<String> splits = List.of("iid", "dirichlet");
    @Option(names = "--seeds", paramLabel = "N|A..B", converter = Seeds.Converter.class,
            description = "Seeds 1..N per algorithm and split, or A..B (default: 3).")
    Seeds seeds = Seeds.upTo(3);
    @Option(names = "--model", description = "Zoo model instead of the base experiment's, at its default cut (e.g. resnet20: "
            + "the server holds most of the network).")
    String model;
    @Option(names = "--set", paramLabel = "KEY=VALUE", description = "Override a key of the base experiment (repeatable).")
    List<String> overrides = new ArrayList<>();
    @Option(names = "--out", description = "Output location (default: out/reproduce, with --model out/reproduce-MODEL); "
            + "a re-run reuses its finished runs.")
    String out;

    @Override
    public Integer call() throws Exception {
        long start = System.nanoTime();
        if (model != null) {
            overrides.add(0, "model.name=" + model);
            overrides.add(1, "model.cut=0");
        }
        if (out == null) {
            out = model == null ? "out/reproduce" : "out/reproduce-" + model;
        }
        Grid grid = Grid.parse(List.of("data.partition.scheme=[" + String.join(",", splits) + "]",
                "algorithm=[" + String.join(",", algorithms) + "]"));
        Sweep.Spec spec = new Sweep.Spec(config, overrides, grid, seeds, out, List.of(0.80, 0.85));
        Sweep.Result r;
        try (BenchRuns runs = new BenchRuns()) {
            r = Sweep.run(runs.session(ExperimentLoader.fromLocation(config, overrides)), spec, System.out, new Sweep.Listener() {
                @Override
                public void started(Sweep.Planned p, int index, int of, boolean reused) {
                    System.out.printf("%n== run %d/%d: %s%s%n", index + 1, of, p.title(), reused ? " (reused)" : "");
                }

                @Override
                public void round(Sweep.Planned p, RoundRecord row) {
                    BenchRuns.print(row);
                }
            });
        }
        System.out.printf(Locale.ROOT, "%n%s%nWhole benchmark: %.1f min. Written: %s (summary.md/.csv, sweep.csv/.parquet, "
                + "accuracy_vs_*.png, runs/)%n", Sweep.markdown(spec, r), (System.nanoTime() - start) / 60e9, out);
        return 0;
    }
}
