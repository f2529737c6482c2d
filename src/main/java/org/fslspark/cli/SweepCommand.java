package org.fslspark.cli;

import org.fslspark.config.Experiment;
import org.fslspark.metrics.RoundRecord;
import org.fslspark.sweep.Grid;
import org.fslspark.sweep.Seeds;
import org.fslspark.sweep.Sweep;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

@Command(name = "sweep", mixinStandardHelpOptions = true,
        description = {"Run an experiment over a grid of key values, each point with seeds 1..N (or A..B), in one Spark application, "
                + "and summarise the seeds of each point: mean, standard deviation and 95%% confidence interval of best and "
                + "final accuracy, traffic, time, and traffic, rounds and time to each target accuracy.",
                "Each distinct split is prepared once under OUT/data (every seed has its own); a re-run reuses the finished "
                        + "runs and resumes an unfinished one from its round checkpoint. Writes OUT/sweep.csv/.parquet (every "
                        + "round of every run), OUT/summary.csv/.md and plots with interval bars."})
final class SweepCommand implements Callable<Integer> {
    @Mixin
    ExperimentOptions experiment = new ExperimentOptions();

    @Option(names = "--grid", paramLabel = "KEY=[V1,V2,...]",
            description = "A key and its values, in HOCON (repeatable; the points are the cross product), "
                    + "e.g. --grid 'algorithm=[cse-fsl,fsl-sage]' --grid 'data.partition.scheme=[iid,dirichlet]'.")
    List<String> grid = new ArrayList<>();

    @Option(names = "--seeds", paramLabel = "N|A..B", converter = Seeds.Converter.class,
            description = "Seeds 1..N per point, or A..B (to share a sweep's seeds between processes: a later sweep over "
                    + "1..B with the same --out reuses their runs) (default: 3).")
    Seeds seeds = Seeds.upTo(3);

    @Option(names = "--targets", split = ",", paramLabel = "ACC",
            description = "Target accuracies the summary reports traffic and time to (default: ${DEFAULT-VALUE}).")
    List<Double> targets = List.of(0.80, 0.85);

    @Option(names = "--out", paramLabel = "DIR", description = "Output location (any Hadoop URI; default: out/sweep/<experiment>).")
    String out;

    @Option(names = "--master", paramLabel = "URL", description = "Spark master; overrides the key `spark.master`.")
    String master;

    @Override
    public Integer call() throws Exception {
        List<String> extra = new ArrayList<>();
        if (master != null) {
            extra.add("spark.master=\"" + master + "\"");
        }
        Experiment base = experiment.load(extra);
        List<String> overrides = new ArrayList<>(experiment.overrides);
        overrides.addAll(extra);
        Sweep.Spec spec = new Sweep.Spec(experiment.config, overrides, Grid.parse(grid), seeds,
                out != null ? out : "out/sweep/" + base.name(), targets);
        List<Sweep.Planned> plan = Sweep.plan(spec);
        System.out.printf("%s: %d grid points x %s = %d runs, %d rounds each; results in %s%n", base.name(),
                plan.size() / seeds.count(), seeds, plan.size(), base.train().rounds(), spec.out());
        try (CommandSession session = new CommandSession(plan.get(0).experiment())) {
            Sweep.Result r = Sweep.run(session.spark, spec, System.out, new Sweep.Listener() {
                @Override
                public void started(Sweep.Planned p, int index, int of, boolean reused) {
                    System.out.printf("%n== run %d/%d: %s%s%n", index + 1, of, p.title(), reused ? " (finished earlier: reused)" : "");
                }

                @Override
                public void round(Sweep.Planned p, RoundRecord row) {
                    System.out.println(TrainCommand.line(row));
                }
            });
            System.out.printf(Locale.ROOT, "%n%s%nResults: %s (sweep.csv/.parquet, summary.csv/.md, accuracy_vs_traffic.png, "
                    + "accuracy_vs_time.png, runs/)%n", Sweep.markdown(spec, r), spec.out());
        }
        return 0;
    }
}
