package org.fslspark.cli;

import org.fslspark.runtime.PrepareJob;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.util.List;
import java.util.concurrent.Callable;

@Command(name = "prepare", mixinStandardHelpOptions = true,
        description = {"Partition the experiment's dataset across its institutes: each institute's share goes to "
                + "<data.location>/<institute>, the test set to <data.location>/_test (Parquet).",
                "Prints each institute's sample count and label histogram."})
final class PrepareCommand implements Callable<Integer> {
    @Mixin
    ExperimentOptions experiment = new ExperimentOptions();

    @Option(names = "--overwrite", description = "Replace existing partitions.")
    boolean overwrite;

    @Override
    public Integer call() {
        PrepareJob.run(experiment.load(List.of()), overwrite, System.out);
        return 0;
    }
}
