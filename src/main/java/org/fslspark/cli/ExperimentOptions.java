package org.fslspark.cli;

import org.fslspark.config.Experiment;
import org.fslspark.config.ExperimentLoader;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.util.ArrayList;
import java.util.List;

/** The options every command that reads an experiment shares. */
final class ExperimentOptions {
    @Parameters(index = "0", paramLabel = "CONFIG", description = "Experiment config file (HOCON): a local path, e.g. conf/quickstart.conf, or any Hadoop URI.")
    String config;

    @Option(names = "--set", paramLabel = "KEY=VALUE",
            description = "Override a config key (repeatable), e.g. --set train.rounds=3. `fsl keys` lists the keys.")
    List<String> overrides = new ArrayList<>();

    Experiment load(List<String> extra) {
        List<String> all = new ArrayList<>(overrides);
        all.addAll(extra);
        return ExperimentLoader.fromLocation(config, all);
    }
}
