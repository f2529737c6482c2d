package org.fslspark.cli;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;
import org.fslspark.config.Experiment;
import org.fslspark.config.ExperimentLoader;
import org.fslspark.data.DataException;
import org.fslspark.data.PartitionStore;
import org.fslspark.runtime.CutPlanner;
import org.fslspark.testbed.Topology;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.File;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;

@Command(name = "plan-cuts", mixinStandardHelpOptions = true,
        description = {"Choose a cut per site with the time model: for every cut of the experiment's model, each site's "
                + "modelled round time on the test-bed (its link's round trip and throughput, its speed and the server "
                + "site's, the activations and parameters at the cut, the compute of each layer), the cut that minimises it, "
                + "and the modelled round with those cuts against the experiment's cut for every site (docs/CUTS.md).",
                "Ends with the model.cut map that runs the plan."})
final class PlanCutsCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "TOPOLOGY", description = "Test-bed topology file, e.g. conf/testbeds/aiedge.conf.")
    File topology;

    @Parameters(index = "1", paramLabel = "CONFIG", description = "Experiment config file (HOCON): its algorithm, model, "
            + "batch size, local epochs, codecs, institutes (sites of the topology) and model.cut (the uniform cut compared with).")
    String config;

    @Option(names = "--set", paramLabel = "KEY=VALUE", description = "Override a config key (repeatable).")
    List<String> overrides = new ArrayList<>();

    @Option(names = "--samples", paramLabel = "N", description = "Training samples of every institute (default: each "
            + "institute's prepared share, else data.train-subset shared evenly).")
    Long samples;

    @Option(names = "--gflops", paramLabel = "G", description = "Training GFLOP/s of a site of relative speed 1.0 "
            + "(default: ${DEFAULT-VALUE}, the fmnist_cnn split step measured on the reference machine, docs/PERFORMANCE.md).")
    double gflops = 60;

    @Override
    public Integer call() {
        List<String> all = new ArrayList<>(overrides);
        all.add("testbed.topology=\"" + topology.getPath() + "\"");
        Experiment e = ExperimentLoader.fromLocation(config, all);
        CutPlanner.Plan plan = CutPlanner.plan(e, samples(e), gflops);
        Topology t = e.testbed().topology();
        System.out.printf(Locale.ROOT, "%s on %s (%s), %s cut by model.cut in %s, batch %d, %d local epoch(s), server part at %s, "
                        + "%.1f GFLOP/s at relative speed 1.0%n", e.algorithm(), t.name(), t.source(), e.model().name(),
                Arrays.toString(CutPlanner.cutsOf(e.model()).toArray()), e.train().batchSize(), e.train().localEpochs(),
                e.serverSite(), gflops);
        System.out.printf(Locale.ROOT, "%-10s %9s %5s %-26s %5s %12s %12s %5s %12s %12s%n", "site", "samples", "speed",
                "link to " + e.serverSite(), "cut", "activations", "seconds", "best", "activations", "seconds");
        for (CutPlanner.SitePlan s : plan.sites()) {
            System.out.printf(Locale.ROOT, "%-10s %9d %5.2f %-26s %5d %12d %12.3f %5d %12d %12.3f%n", s.institute(), s.samples(),
                    t.site(s.institute()).compute().relativeSpeed(), t.link(s.institute()), s.uniform().cut(),
                    s.uniform().activations(), s.uniform().seconds(), s.best().cut(), s.best().activations(), s.best().seconds());
        }
        System.out.printf(Locale.ROOT, "modelled round: %.3f s at %s, %.3f s at the best cut per site (%.2fx)%n",
                plan.uniformRoundSeconds(), e.perSiteCuts() ? "the experiment's cuts" : "the uniform cut", plan.plannedRoundSeconds(),
                plan.plannedRoundSeconds() / plan.uniformRoundSeconds());
        System.out.println("model.cut = { " + plan.cuts().entrySet().stream().map(c -> c.getKey() + " = " + c.getValue())
                .collect(Collectors.joining(", ")) + " }");
        return 0;
    }

    /** Each institute's training samples: --samples, its prepared share's count, or data.train-subset shared evenly. */
    private long[] samples(Experiment e) {
        long[] out = new long[e.institutes().size()];
        Configuration conf = new Configuration();
        for (int i = 0; i < out.length; i++) {
            if (samples != null) {
                out[i] = samples;
                continue;
            }
            String location = e.data().locationOf(e.institutes().get(i));
            try {
                out[i] = PartitionStore.describe(conf, new Path(location)).samples();
            } catch (DataException | IllegalArgumentException missing) {
                if (e.data().trainSubset() <= 0) {
                    throw new IllegalArgumentException("no prepared share at " + location + " (" + missing.getMessage()
                            + ") and data.train-subset = 0: give --samples N");
                }
                out[i] = e.data().trainSubset() / out.length;
            }
        }
        return out;
    }
}
